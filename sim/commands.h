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
/* wmsim worldmodel estimator train|eval: the inverse-dynamics estimator (sim/cmd_estimator.c) */
int cmd_worldmodel_estimator(int argc, char **argv);
/* wmsim worldmodel eval: the world model measured on held-out clips (sim/cmd_wm_eval.c) */
int cmd_worldmodel_eval(int argc, char **argv);
/* wmsim dream: the world model open loop, context + actions -> video (sim/cmd_dream.c) */
int cmd_dream(int argc, char **argv);
/* wmsim agreement: every episode of a suite in the oracle and the generative loop, compared (sim/cmd_agreement.c) */
int cmd_agreement(int argc, char **argv);
/* wmsim vla train|eval: the camera-based baseline policy vla-tiny (sim/cmd_vla.c) */
int cmd_vla(int argc, char **argv);
/* wmsim synth sweep|search: scenarios from a template, and the search for failing ones (sim/cmd_synth.c) */
int cmd_synth(int argc, char **argv);
/* wmsim eval: the nightly closed-loop evaluation of a policy on a suite (sim/cmd_eval.c) */
int cmd_eval(int argc, char **argv);

#endif
