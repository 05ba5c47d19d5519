#ifndef WMSIM_VERSION_H
#define WMSIM_VERSION_H
#define WMSIM_VERSION "0.1.0"
#endif
