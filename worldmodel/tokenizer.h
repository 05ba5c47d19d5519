/* tokenizer.h — the frame tokenizer: a convolutional VQ autoencoder that
 * turns a W x H RGB frame into a (W/down) x (H/down) grid of codebook
 * indices and back. The world model's transformer predicts these tokens.
 *
 * Usage:
 *     tokenizer_config cfg = tokenizer_config_default();   // 128x64 -> 16x8, 1024 codes
 *     tokenizer tk;
 *     if (tokenizer_init(&tk, &cfg, 16, seed, &err)) ...   // room for batches of up to 16
 *     float loss = tokenizer_train_step(&tk, x, B, &hp, lr, step, &stats);   // x: (B, 3, H, W) in [0, 1]
 *     tokenizer_encode(&tk, x, B, codes);                    // codes: (B, h * w)
 *     tokenizer_decode(&tk, codes, B, x_out);                // x_out: (B, 3, H, W), clamped to [0, 1]
 *     tokenizer_free(&tk);
 *
 * The network is a sequence of layers (worldmodel/ops.h); a residual
 * block is GN, SiLU, conv3x3 and an add layer that adds the block's input
 * (res_blocks per resolution; 0 gives the plain first design, a conv3x3,
 * GN, SiLU per stage):
 *     encoder  conv3x3 3->c, SiLU; per 2x downsampling stage conv4x4/2
 *              and the residual blocks; GN, SiLU, conv1x1 to D
 *     VQ       nearest of N codes (D-dim), straight-through, commitment
 *     decoder  conv3x3 D->, residual blocks; per stage upsample2x,
 *              conv3x3, residual blocks; GN, SiLU, conv3x3 to 3 channels
 * Channels per stage follow channel_mult times c. Parameters, gradients
 * and the optimizer's moments are each one allocation; activations one
 * arena sized for max_batch; a training step allocates nothing. */
#ifndef WMSIM_TOKENIZER_H
#define WMSIM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "worldmodel/checkpoint.h"
#include "worldmodel/ops.h"

#define TOKENIZER_MAX_STAGES 4
#define TOKENIZER_MAX_LAYERS 96

typedef struct {
    int width, height;   /* frame, pixels */
    int down;            /* 8 or 16: 3 or 4 stages of 2x */
    int channels;        /* c, the first stage's width */
    int channel_mult[TOKENIZER_MAX_STAGES + 1]; /* stage widths: c * mult[i] */
    int code_dim;        /* D */
    int codebook_size;   /* N */
    int groups;          /* group norm groups (divides every width) */
    int res_blocks;      /* residual blocks per resolution, 0..4 (0: plain conv stages) */
} tokenizer_config;

tokenizer_config tokenizer_config_default(void); /* 128x64, down 8, c 32, mult 1 2 2 4, D 32, N 1024, G 8, 1 residual block */
int tokenizer_config_check(const tokenizer_config *cfg, wm_error *err);

typedef enum { LAYER_CONV, LAYER_GROUPNORM, LAYER_SILU, LAYER_UPSAMPLE, LAYER_ADD } layer_kind;

/* One layer of the sequence: its shapes, and where its parameters sit in
 * the one parameter block. */
typedef struct {
    layer_kind kind;
    int ci, h, w;          /* input (C, H, W) */
    int co, ho, wo;        /* output */
    int k, stride, pad;    /* conv */
    int groups;            /* group norm */
    int skip;              /* add: the layer of the same sequence whose output is added to the input */
    size_t w_off, b_off;   /* conv: weight, bias; group norm: gamma, beta (into params) */
    size_t w_len, b_len;
    size_t stat_off;       /* group norm: its (max_batch, G) slice of gn_mean / gn_rstd */
    char name[32];         /* "enc.4", "dec.7": checkpoint tensor names add ".w" / ".b" */
} tokenizer_layer;

typedef struct {
    float recon_weight;    /* MSE on pixels */
    float gradient_weight; /* image-gradient L1: sharp edges */
    float commit_beta;     /* commitment (the codebook loss has weight 1) */
    adamw_params adamw;
    float clip_norm;       /* <= 0: no clipping */
    int dead_code_steps;   /* a code unused this many steps is restarted; 0: never */
} tokenizer_train_params;

tokenizer_train_params tokenizer_train_params_default(void);

typedef struct {
    float loss, recon, gradient, commit;
    float grad_norm;
    float psnr;            /* dB on the batch */
    int codes_used;        /* distinct codes in the batch */
    int restarted;         /* dead codes restarted this step */
} tokenizer_step_stats;

typedef struct {
    tokenizer_config cfg;
    int max_batch;
    int hz, wz;                     /* token grid: height/down x width/down */
    tokenizer_layer enc[TOKENIZER_MAX_LAYERS], dec[TOKENIZER_MAX_LAYERS];
    int n_enc, n_dec;
    size_t codebook_off;            /* (N, D) in params */
    size_t n_params;
    float *params, *grads, *m, *v;  /* (n_params) each */
    /* activations, for max_batch images: act_enc[i] is enc layer i's output */
    float *act_enc[TOKENIZER_MAX_LAYERS], *act_dec[TOKENIZER_MAX_LAYERS];
    float *gn_mean, *gn_rstd;       /* per group-norm layer, (max_batch, G) slices */
    float *x_in;                    /* (B, 3, H, W) input scaled to [-1, 1] */
    float *zq;                      /* (B, D, hz*wz) */
    float *d_a, *d_b;               /* gradient ping-pong, the largest activation each */
    float *d_skip;                  /* a residual block's input gradient, held across the block */
    float *scratch;                 /* conv im2col */
    int *codes;                     /* (B, hz*wz) */
    int *code_last_used;            /* (N) step a code was last chosen */
    wm_rng rng;                     /* initialisation, dead-code restarts */
    size_t arena_floats;
} tokenizer;

int tokenizer_init(tokenizer *tk, const tokenizer_config *cfg, int max_batch, uint64_t seed, wm_error *err);
void tokenizer_free(tokenizer *tk);

/* The loss on x (B, 3, H, W) in [0, 1] and its gradients in tk->grads
 * (written, not added), without changing the weights. Through the
 * quantiser the gradient is straight-through (an estimate); the decoder's
 * and the codebook's are exact. stats (may be NULL): the loss terms and
 * the PSNR. */
float tokenizer_gradients(tokenizer *tk, const float *x, int B, const tokenizer_train_params *hp,
                          tokenizer_step_stats *stats);

/* One optimisation step on x: gradients, clipping, AdamW, dead-code
 * restarts; step counts from 1 (Adam's bias correction). Returns the loss. */
float tokenizer_train_step(tokenizer *tk, const float *x, int B, const tokenizer_train_params *hp, float lr, int step,
                           tokenizer_step_stats *stats);

void tokenizer_encode(tokenizer *tk, const float *x, int B, int *codes);
/* codes must lie in [0, codebook_size): callers check what they read from files. */
void tokenizer_decode(tokenizer *tk, const int *codes, int B, float *x_out);
/* encode then decode, into x_out; returns the batch's PSNR in dB. */
float tokenizer_reconstruct(tokenizer *tk, const float *x, int B, float *x_out);

/* How well a tokenizer reconstructs n frames (B, 3, H, W) in [0, 1]. */
typedef struct {
    int frames;
    double psnr, ssim;     /* dB and [-1, 1], means of per-frame values */
    int codes_used;        /* distinct codes over all frames */
    double perplexity;     /* exp(entropy) of the code histogram: the effective codebook size */
} tokenizer_eval;

/* Encodes and decodes x in batches of up to max_batch; recon (n frames, may
 * be NULL) receives the reconstructions. */
int tokenizer_evaluate(tokenizer *tk, const float *x, int n, float *recon, tokenizer_eval *out, wm_error *err);

/* Checkpoints (worldmodel/FORMAT.md; model type CKPT_MODEL_TOKENIZER). The
 * model file holds the config and the weights; loading builds the network
 * from the file's config. The training-state file holds the weights, the
 * optimizer's moments, the codes' last-use steps, the tokenizer's RNG and
 * the caller's progress (p->rng is ignored: the tokenizer's own RNG is
 * saved); loading it needs a tokenizer of the same config. */
int tokenizer_save(const tokenizer *tk, const char *path, uint64_t *checksum, wm_error *err);
int tokenizer_load(tokenizer *tk, const char *path, int max_batch, wm_error *err);
int tokenizer_save_state(const tokenizer *tk, const char *path, const ckpt_train_progress *p, wm_error *err);
int tokenizer_load_state(tokenizer *tk, const char *path, ckpt_train_progress *p, wm_error *err);

#endif
