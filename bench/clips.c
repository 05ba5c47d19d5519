/* bench/clips — synthetic clip generation end to end (episode, expert with
 * explore, oracle render, FFV1 + H.264 encoding, states, captions) in frames
 * per second at 128x64, with 1 and with 2 jobs. The 1-job run is the
 * baseline: the ratio shows how generation scales across cores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/clips.h"

static double frames_per_s(const char *const *scenarios, int n, int variations, int jobs, const char *out,
                           int quiet) {
    clips_config cfg = {.scenarios = scenarios, .n_scenarios = n, .variations = variations, .policy = "expert",
                        .explore = 1, .out_dir = out, .width = 128, .height = 64, .seconds = 10, .jobs = jobs};
    clips_report rep;
    wm_error err;
    if (clips_generate(&cfg, &rep, &err)) fprintf(stderr, "%s\n", err.msg), exit(1);
    if (!quiet)
        printf("  %d job%s: %d clips, %ld frames in %.2f s\n", jobs, jobs > 1 ? "s" : " ", rep.written, rep.frames,
           rep.elapsed_s);
    return rep.frames / rep.elapsed_s;
}

int main(int argc, char **argv) {
    const char *scenarios[] = {"scenarios/examples/guard_stop_proceed.pbtxt", "scenarios/examples/cut_in.pbtxt"};
    int variations = argc > 1 ? atoi(argv[1]) : 8;
    char dir[] = "/tmp/wmsim-bench-clips-XXXXXX";
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    char one[64], two[64], warm[64];
    snprintf(warm, sizeof warm, "%s/warm", dir);
    snprintf(one, sizeof one, "%s/1", dir);
    snprintf(two, sizeof two, "%s/2", dir);
    printf("machine: %ld online cores, compiler %s; 2 scenarios x %d variations, 10 s clips at 128x64\n",
           sysconf(_SC_NPROCESSORS_ONLN), __VERSION__, variations);
    frames_per_s(scenarios, 2, 1, 1, warm, 1); /* page in the code and the encoders */
    double a = frames_per_s(scenarios, 2, variations, 1, one, 0);
    double b = frames_per_s(scenarios, 2, variations, 2, two, 0);
    printf("1 job (baseline) %.0f frames/s; 2 jobs %.0f frames/s; ratio %.2f\n", a, b, b / a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
