#include <stdio.h>
int main(void) { puts("wmsim: under construction"); return 0; }
