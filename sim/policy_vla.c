/* policy_vla.c — vla-tiny as a policy ("vla-tiny": models/vla-tiny.wmck;
 * "vla:PATH.wmck": another checkpoint). It sees only what an external
 * policy sees: the camera frame, the speed, the instruction. It keeps the
 * last gap+1 frames itself, and clamps the network's outputs into the
 * observation's limits (its own answers, so no policy error). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "sim/policy.h"
#include "worldmodel/vla.h"

typedef struct {
    vla net;
    uint8_t *history;  /* (gap + 1) frames, RGB8, a ring */
    int seen;          /* frames seen this episode */
    float text[VLA_MAX_TEXT];
    float *x;          /* one sample's input planes */
} vla_state;

static int vla_reset(policy *self, const sim_world *w, wm_error *err) {
    (void)w, (void)err;
    ((vla_state *)self->state)->seen = 0;
    return 0;
}

static int vla_act(policy *self, const policy_observation *obs, action *cmd, char reasoning[POLICY_REASONING_MAX],
                   wm_error *err) {
    vla_state *st = self->state;
    const vla_config *c = &st->net.cfg;
    const image *f = obs->frame;
    if (!f) return wm_fail(err, "policy %s: no camera frame at step %d", self->name, obs->step);
    if (f->width != c->net.width || f->height != c->net.height)
        return wm_fail(err, "policy %s: the camera gives %dx%d frames, but the model takes %dx%d", self->name, f->width,
                       f->height, c->net.width, c->net.height);
    const size_t bytes = (size_t)f->width * f->height * 3;
    const int slots = c->gap + 1;
    if (st->seen == 0) vla_text_embedding(obs->instruction, c->text_dims, st->text);
    memcpy(st->history + (size_t)(st->seen % slots) * bytes, f->rgb, bytes);
    /* Before gap frames exist, the earliest one stands in for the earlier frame. */
    int earlier = st->seen >= c->gap ? st->seen - c->gap : 0;
    const uint8_t *now = st->history + (size_t)(st->seen % slots) * bytes;
    const uint8_t *then = st->history + (size_t)(earlier % slots) * bytes;
    st->seen++;
    vla_input(&st->net, now, then, (float)obs->speed, st->text, st->x);
    float out[VLA_OUTPUTS];
    vla_forward(&st->net, st->x, 1, out);
    const action_limits *lim = obs->limits;
    double frac[VLA_OUTPUTS];
    vla_output_action(out, frac);
    *cmd = (action){frac[0] * lim->accel_max, frac[1] * lim->brake_max, frac[2] * lim->steer_max};
    snprintf(reasoning, POLICY_REASONING_MAX, "%s at %.1f m/s", cmd->brake > 0.5 ? "braking" :
             cmd->accel > 0.3 ? "accelerating" : "coasting", obs->speed);
    return 0;
}

static void vla_destroy(policy *self) {
    vla_state *st = self->state;
    if (!st) return;
    vla_free(&st->net);
    free(st->history), free(st->x), free(st);
    self->state = NULL;
}

int policy_vla_create(const char *path, policy *pol, wm_error *err) {
    memset(pol, 0, sizeof *pol);
    vla_state *st = CALLOC_CHECK(1, sizeof *st);
    if (vla_load(&st->net, path, 1, err)) {
        free(st);
        return wm_error_prefix(err, "policy vla: ");
    }
    const vla_config *c = &st->net.cfg;
    st->history = CALLOC_CHECK((size_t)(c->gap + 1) * c->net.width * c->net.height * 3, 1);
    st->x = CALLOC_CHECK(vla_input_floats(&st->net), sizeof(float));
    if (strcmp(path, POLICY_VLA_TINY_PATH) == 0) snprintf(pol->name, sizeof pol->name, "vla-tiny");
    else snprintf(pol->name, sizeof pol->name, "vla:%s", path);
    pol->sees_frames = 1;
    pol->state = st;
    pol->reset = vla_reset;
    pol->act = vla_act;
    pol->destroy = vla_destroy;
    return 0;
}
