/* commands.h — wmsim commands that live in their own files beside
 * sim/wmsim.c (which dispatches to them). Each takes the arguments after
 * the command's name and returns the exit status: 0 the command did its
 * job, 1 bad input or an I/O error (message on stderr), 2 bad usage. */
#ifndef WMSIM_COMMANDS_H
#define WMSIM_COMMANDS_H

/* wmsim tokenizer train|encode|decode|eval (sim/cmd_tokenizer.c) */
int cmd_tokenizer(int argc, char **argv);
/* wmsim worldmodel tokenize (sim/cmd_worldmodel.c) */
int cmd_worldmodel(int argc, char **argv);

#endif
