/* dynamics_model.h — the action-conditioned dynamics transformer: given the
 * tokens of past frames (worldmodel/tokenizer.h) and each frame's action
 * and scene slots, it predicts the next frame's image tokens.
 *
 * Usage:
 *     dynamics_config cfg = dynamics_config_default();   // V 1024, P 128, F 3, K 4, 4 layers of 128
 *     dynamics_model dm;
 *     if (dynamics_init(&dm, &cfg, 8, seed, &err)) ...    // room for batches of up to 8 windows
 *     dynamics_ar_targets(&cfg, tokens, B, targets);      // next-token targets, (B, T)
 *     float loss = dynamics_train_step(&dm, tokens, actions, slots, targets, B, 1, NULL, lr, step, NULL);
 *     dynamics_generate_frame(&dm, context, actions, slots, B, 1.0f, 50, &rng, next);   // (B, P), token by token
 *     dynamics_generate_frame_parallel(&dm, context, actions, slots, B, 8, 1.0f, 0, &rng, next); // 8 passes
 *     dynamics_save(&dm, "models/dynamics.wmck", NULL, &err);
 *     dynamics_free(&dm);
 *
 * Dimension glossary:
 *     B batch (windows)   F frames per window   P image tokens per frame
 *     K scene slots per frame   S features per slot   A action features
 *     L = 1 + K + P positions per frame   T = F L positions per window
 *     N = B T rows   C channels   NH heads   hs = C / NH   V vocabulary
 *     Lyr layers
 * Caller's arrays, contiguous row-major:
 *     tokens  (B, F, P)     image token ids in [0, V]; V is the MASK token
 *                           (an input only: never a target or a sample)
 *     actions (B, F, A)     continuous, normalised by the caller; the
 *                           default A = 4 is accel, brake, steer, speed
 *                           (wmsim gives each frame the action that led
 *                           to it and its speed: datasets/window_source.h)
 *     slots   (B, F, K, S)  continuous; a slot whose S features are all 0
 *                           is absent (conditioning dropout is the caller's:
 *                           it zeroes them); NULL: every slot absent
 *     targets (B, T)        the token id position t predicts, or -1
 *
 * Sequence layout. Frame f (0 .. F-1) occupies positions f L .. f L + L-1:
 *     f L            its action token
 *     f L + 1 ..     its K slot tokens, slot k at f L + 1 + k
 *     f L + 1 + K .. its P image tokens, token j at f L + 1 + K + j
 * Input embeddings, per position t = f L + i:
 *     x_t = (e_t + pos_emb[i]) + frame_emb[f]
 * with e_t = act.w a_f (action), slot.w s_fk (slot; an absent slot gives 0,
 * so only its position embeddings remain) or tok_emb[token] (image; V + 1
 * rows, row V the MASK token). No layer has a bias.
 *
 * Network (pre-norm, Llama-shaped with learned positions and GELU):
 *     Lyr x { x += attn.proj(attention(attn.qkv(rmsnorm(x; ln1))))
 *             x += mlp.proj(gelu(mlp.fc(rmsnorm(x; ln2)))) }      MLP C -> 4C -> C
 *     logits = head(rmsnorm(x; ln_f))                             (B, T, V), untied
 * attention is transformer_ops.h's block-causal attention: block 1 is
 * ordinary causal attention (autoregressive training and decoding); block
 * L lets a frame's positions see each other and every earlier frame
 * (the masked objective and MaskGIT-style parallel decoding).
 *
 * Two objectives, one network. Autoregressive: a position holding a real
 * token predicts the NEXT image token (block 1). Masked: a position
 * holding MASK predicts its OWN token (block L). The input tells the two
 * apart (MASK never appears in autoregressive inputs, and unmasked
 * positions carry no masked target), so a model trained on a mix of both
 * (dynamics_train.h) decodes either way.
 *
 * Autoregressive targets (dynamics_ar_targets): every position whose NEXT
 * position is an image token predicts that token, the rest are -1. So in
 * frame f the last conditioning position (f L + K: the last slot, or the
 * action when K = 0) predicts image token 0, image token j predicts image
 * token j + 1 (j < P - 1), and the last image token predicts nothing (the
 * next position is frame f + 1's action). Frame 0's tokens are predicted
 * too (from its action and slots alone). That is F P counted positions of T.
 *
 * Training: AdamW (ops.h) with decoupled weight decay on the rank-2 tensors
 * (embedding tables, projections, head) and none on the norm weights;
 * gradients clipped to a global norm. Initialisation (GPT-2's): matrices
 * and tables normal(0, 0.02), the two residual projections of each block
 * (attn.proj, mlp.proj) normal(0, 0.02 / sqrt(2 Lyr)), norm weights 1.
 *
 * Memory. Parameters, gradients and both moments are one allocation of
 * 4 n_params floats (1.07 M parameters, 17 MB, at the default config);
 * activations one arena sized for max_batch windows, the KV caches of
 * generation included: about Lyr (18 N C + NH B T²) + 3 N V floats, 7.5 M
 * floats (30 MB) at the default config per window of max_batch. No step
 * allocates. The arena holds the last forward pass: dm->logits (B, T, V)
 * after dynamics_forward (generation overwrites it). Results do not
 * depend on the OpenMP thread count.
 *
 * Generation (dynamics_generate_frame): the F-1 context frames and the new
 * frame's action and slot tokens are run through the network once,
 * filling a KV cache per layer ((B, NH, T, hs) for k and v), then the P
 * image tokens are sampled one at a time, each fed back at its position
 * (block 1). Learned frame-index embeddings tie a position to its place in
 * the window, so a rollout that slides the window recomputes the context
 * (one forward pass per generated frame) rather than reusing the cache.
 * Parallel generation (dynamics_generate_frame_parallel) fills the cache
 * with the context at block L and decodes the whole frame in a few passes.
 *
 * Checkpoints (model type CKPT_MODEL_DYNAMICS; worldmodel/FORMAT.md).
 * The model file's config slots:
 *     | config | value |
 *     |---|---|
 *     | 0 | vocabulary V (codebook size; the embedding table has V + 1 rows, row V the MASK token) |
 *     | 1 | image tokens per frame P |
 *     | 2 | frames per window F |
 *     | 3 | scene slots per frame K (0: none) |
 *     | 4 | features per slot S |
 *     | 5 | action features A |
 *     | 6 | layers Lyr |
 *     | 7 | channels C (the MLP's hidden width is 4C) |
 *     | 8 | heads NH (divides C) |
 *     | 9 | architecture: `1`, the network of `dynamics_model.h`; a file of another architecture is refused by name |
 * Its tensors, in the parameter block's order (L = 1 + K + P):
 *     | tensor | shape | what |
 *     |---|---|---|
 *     | `tok_emb` | (V + 1) x C | image-token embeddings, row V the MASK token |
 *     | `act.w` | C x A | the action token's projection (no bias) |
 *     | `slot.w` | C x S | a slot token's projection (no bias); only when K > 0 |
 *     | `pos_emb` | L x C | position-in-frame embeddings |
 *     | `frame_emb` | F x C | frame-index embeddings |
 *     | `blk.I.ln1.w` | C | block I's attention RMSNorm weight, for I = 0 .. Lyr-1, each block's six tensors together |
 *     | `blk.I.attn.qkv.w` | 3C x C | q, k, v projections (q rows first; head h is rows h hs .. (h+1) hs - 1 of each) |
 *     | `blk.I.attn.proj.w` | C x C | attention output projection |
 *     | `blk.I.ln2.w` | C | MLP RMSNorm weight |
 *     | `blk.I.mlp.fc.w` | 4C x C | MLP input projection (GELU after) |
 *     | `blk.I.mlp.proj.w` | C x 4C | MLP output projection |
 *     | `ln_f.w` | C | final RMSNorm weight |
 *     | `head.w` | V x C | output head (logits over the V codes; not tied to tok_emb) |
 * Linear weights are (out, in), applied as y = W x. */
#ifndef WMSIM_DYNAMICS_MODEL_H
#define WMSIM_DYNAMICS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "worldmodel/checkpoint.h"
#include "worldmodel/ops.h"

#define DYNAMICS_MAX_LAYERS 64
#define DYNAMICS_MAX_POSITIONS 8192 /* T */
#define DYNAMICS_MAX_TENSORS (7 + 6 * DYNAMICS_MAX_LAYERS)
#define DYNAMICS_ARCH 1             /* config slot 9: this header's network */

typedef struct {
    int vocab;        /* V: codebook size */
    int frame_tokens; /* P: image tokens per frame */
    int frames;       /* F: frames per window */
    int slots;        /* K: scene slots per frame, may be 0 */
    int slot_dim;     /* S: features per slot */
    int action_dim;   /* A: action features */
    int layers;       /* Lyr */
    int channels;     /* C */
    int heads;        /* NH */
} dynamics_config;

/* V 1024, P 128 (16 x 8), F 3, K 4, S 8, A 4, 4 layers, C 128, NH 4: the
 * shipped model's size (models/README.md), which trains on a 2-core CPU in
 * about an hour and generates in real time there. Larger sizes (GPU scale)
 * are the config's fields, or `wmsim worldmodel train --frames --layers
 * --channels --heads`. */
dynamics_config dynamics_config_default(void);
/* 0, or -1 with one of (exactly):
 *     dynamics: vocab V outside [2, 65536]
 *     dynamics: frame_tokens P outside [1, 4096]
 *     dynamics: frames F outside [1, 64]
 *     dynamics: slots K outside [0, 64]
 *     dynamics: slot_dim S outside [1, 256]
 *     dynamics: action_dim A outside [1, 64]
 *     dynamics: layers Lyr outside [1, 64]
 *     dynamics: channels C outside [1, 4096]
 *     dynamics: heads NH is not a divisor of channels C
 *     dynamics: F frames of L positions (1 action + K slots + P image tokens) make T, over 8192 */
int dynamics_config_check(const dynamics_config *cfg, wm_error *err);

/* Positions per frame (L) and per window (T) of a config. */
int dynamics_frame_positions(const dynamics_config *cfg);
int dynamics_positions(const dynamics_config *cfg);

/* The autoregressive targets of tokens (B, F, P): targets (B, T), as the
 * header comment's layout says. */
void dynamics_ar_targets(const dynamics_config *cfg, const int *tokens, int B, int *targets);

/* Offsets of one block's tensors in the parameter block. */
typedef struct {
    size_t ln1_w, qkv_w, attn_proj_w, ln2_w, fc_w, fc_proj_w;
} dynamics_layer;

/* One block's activations, for max_batch windows (N = B T rows). */
typedef struct {
    float *res_in;  /* (N, C) the block's input (the residual stream) */
    float *ln1;     /* (N, C) */
    float *rstd1;   /* (N) */
    float *qkv;     /* (N, 3C) */
    float *att;     /* (B, NH, T, T) softmax weights */
    float *atty;    /* (N, C) attention output, before its projection */
    float *res_mid; /* (N, C) after the attention residual */
    float *ln2;     /* (N, C) */
    float *rstd2;   /* (N) */
    float *fc;      /* (N, 4C) */
    float *fc_gelu; /* (N, 4C) */
    float *kcache, *vcache; /* (B, NH, T, hs) each: generation's KV cache */
} dynamics_layer_acts;

typedef struct {
    adamw_params adamw; /* lr is the step's argument; weight_decay applies to rank-2 tensors only */
    float clip_norm;    /* <= 0: no clipping */
} dynamics_train_params;

/* AdamW beta1 0.9, beta2 0.95, eps 1e-8, weight decay 0.1; clip 1.0. */
dynamics_train_params dynamics_train_params_default(void);

typedef struct {
    float loss;
    float grad_norm; /* before clipping */
    int skipped;     /* 1: the gradient was not finite and the weights were left as they were */
} dynamics_step_stats;

/* A (value, index) pair of the sampler's top-k sort. */
typedef struct {
    float value;
    int index;
} dynamics_candidate;

typedef struct {
    dynamics_config cfg;
    int max_batch;
    int L, T;                       /* positions per frame, per window */
    /* parameter offsets (into params, and alike into grads, m, v) */
    size_t tok_emb;                 /* (V + 1, C) */
    size_t act_w;                   /* (C, A) */
    size_t slot_w;                  /* (C, S); only when K > 0 */
    size_t pos_emb;                 /* (L, C) */
    size_t frame_emb;               /* (F, C) */
    dynamics_layer layer[DYNAMICS_MAX_LAYERS];
    size_t lnf_w;                   /* (C) */
    size_t head_w;                  /* (V, C) */
    size_t n_params;
    float *params, *grads, *m, *v;  /* (n_params) each, one allocation */
    ckpt_tensor tensors[DYNAMICS_MAX_TENSORS]; /* the checkpoint's tensors, data into params */
    int n_tensors;
    /* the activation arena, for max_batch windows (N rows) */
    dynamics_layer_acts act[DYNAMICS_MAX_LAYERS];
    float *res_out;                 /* (N, C) the last block's output */
    float *lnf, *rstdf;             /* (N, C), (N) */
    float *logits, *probs;          /* (N, V) each */
    float *losses;                  /* (N) */
    float *weights_in;              /* (N) the weighted forward pass's target weights */
    float *emb_act, *emb_slot, *emb_img; /* (B F, C), (B F K, C), (B F P, C): embeddings, then their gradients */
    float *actions_in, *slots_in;   /* (B, F, A), (B, F, K, S): the forward pass's inputs */
    float *dres, *dln;              /* (N, C) gradient of the residual stream; of a norm's output */
    float *dqkv;                    /* (N, 3C) */
    float *dfc, *dfc_gelu;          /* (N, 4C) each */
    float *datt, *dpreatt;          /* (B, NH, T, T) each */
    float *dlogits;                 /* (N, V) */
    size_t arena_floats;
    int *tokens_in;                 /* (B, F, P) */
    int *targets_in;                /* (N) */
    int *pos_ids, *frame_ids;       /* (N): t mod L, t / L */
    dynamics_candidate *candidates; /* (V) the sampler's scratch */
    /* the last forward pass */
    int batch, block, has_targets, weighted;
    /* Generation's classifier-free guidance on the actions (1 after init
     * and load: none). At w != 1 each generator also runs every window
     * with all its action features 0 (what action dropout trains: the
     * model's guess without them) and samples from u + w (l - u), l and u
     * the logits with and without them, so w > 1 strengthens what the
     * actions change. It runs 2B windows: max_batch must hold them. */
    float guidance;
} dynamics_model;

/* Builds the model with random weights from seed; room for batches of
 * 1 .. max_batch (<= 4096) windows. Errors: the config's, or
 *     dynamics: batch B outside [1, 4096]
 *     dynamics: batch B needs X GiB of activations, over the 64 GiB limit */
int dynamics_init(dynamics_model *dm, const dynamics_config *cfg, int max_batch, uint64_t seed, wm_error *err);
void dynamics_free(dynamics_model *dm);

/* The forward pass over B windows (1 <= B <= max_batch) with the attention
 * mask block (1: causal; L: frame-block causal). Logits in dm->logits
 * (B, T, V). With targets (B, T) (may be NULL) returns the mean
 * cross-entropy over the positions whose target is >= 0 (0 when none, or
 * without targets) and keeps what dynamics_backward needs. Token ids
 * outside [0, V], targets outside [-1, V) or a bad B or block are
 * programming errors: the call aborts with a message. */
float dynamics_forward(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int B,
                       int block, const int *targets);

/* The same with a weight per position (N; >= 0, finite): the loss is
 * sum(w_n loss_n) / sum(w_n) over the positions with a target, and
 * dynamics_backward follows it. weights NULL is dynamics_forward, bit for
 * bit. */
float dynamics_forward_weighted(dynamics_model *dm, const int *tokens, const float *actions, const float *slots, int B,
                                int block, const int *targets, const float *weights);

/* The gradient of the last forward pass's mean loss with respect to every
 * parameter, in dm->grads (zeroed first, then filled). The forward pass must
 * have had targets (else the call aborts). */
void dynamics_backward(dynamics_model *dm);

/* One optimisation step: forward with targets, backward, clipping,
 * AdamW at learning rate lr; step counts from 1 (Adam's bias correction).
 * hp NULL: dynamics_train_params_default(). Returns the loss; stats may be
 * NULL. A non-finite gradient norm skips the update (stats->skipped). */
float dynamics_train_step(dynamics_model *dm, const int *tokens, const float *actions, const float *slots,
                          const int *targets, int B, int block, const dynamics_train_params *hp, float lr, int step,
                          dynamics_step_stats *stats);

/* dynamics_train_step on the weighted loss (dynamics_forward_weighted). */
float dynamics_train_step_weighted(dynamics_model *dm, const int *tokens, const float *actions, const float *slots,
                                   const int *targets, const float *weights, int B, int block,
                                   const dynamics_train_params *hp, float lr, int step, dynamics_step_stats *stats);

/* The next frame of B windows, autoregressively with the KV cache:
 *     context (B, F-1, P)   the context frames' tokens, ids in [0, V]
 *     actions (B, F, A)     the context frames' actions, then the new frame's
 *     slots   (B, F, K, S)  likewise; NULL: every slot absent
 *     out     (B, P)        the new frame's tokens, in [0, V)
 * Each token is drawn from softmax(logits / temperature) restricted to the
 * top_k largest logits (top_k <= 0 or >= V: all; ties in rank go to the
 * lower id), one draw of rng per token, windows in order b = 0 .. B-1.
 * temperature <= 0 takes the argmax (the lowest id among equal maxima)
 * and draws nothing (rng may then be NULL). Overwrites the activations;
 * afterwards dm->logits rows 0 .. B-1 hold the last token's logits. */
void dynamics_generate_frame(dynamics_model *dm, const int *context, const float *actions, const float *slots, int B,
                             float temperature, int top_k, wm_rng *rng, int *out);

/* The next frame of B windows by MaskGIT-style parallel decoding, in
 * `steps` passes (1 <= steps <= P) over the new frame with attention block
 * L (a frame's positions see each other); the arrays as for
 * dynamics_generate_frame. The context is run once into the KV cache
 * (block L, as the masked objective trains it); then every pass predicts
 * each still-masked token, draws a candidate per masked position (the
 * sampler of dynamics_generate_frame, positions in order, one rng draw
 * each when temperature > 0) and keeps the most confident ones (the
 * candidate's probability; ties to the lower position) so that after pass
 * s (1-based) P - floor(P cos(pi/2 s/steps)) tokens are fixed, all of them
 * after the last. Fixed tokens never change. Overwrites the activations. */
void dynamics_generate_frame_parallel(dynamics_model *dm, const int *context, const float *actions, const float *slots,
                                      int B, int steps, float temperature, int top_k, wm_rng *rng, int *out);

/* The masked (MaskGIT) objective's inputs and targets for B windows, from
 * rng: in each window the last frame, and each earlier frame with
 * probability 1/2, has m = max(1, ceil(P cos(pi/2 u))) of its P image
 * tokens replaced by MASK (id V), u uniform in [0, 1), the m positions a
 * uniform draw without replacement; the other frames stay whole (clean
 * context, as generation gives it). masked (B, F, P) gets the inputs and
 * targets (B, T) the original token at each masked position, -1
 * elsewhere. Train with attention block L. */
void dynamics_mask_targets(const dynamics_config *cfg, const int *tokens, int B, wm_rng *rng, int *masked,
                           int *targets);

/* Checkpoints (model type CKPT_MODEL_DYNAMICS; the table above). Loading
 * builds the model from the file's config with room for max_batch
 * windows; checksum (may be NULL) receives the written file's checksum. */
int dynamics_save(const dynamics_model *dm, const char *path, uint64_t *checksum, wm_error *err);
int dynamics_load(dynamics_model *dm, const char *path, int max_batch, wm_error *err);

/* The training state (CKPT_KIND_TRAIN_STATE, model type CKPT_MODEL_DYNAMICS):
 * the weights, AdamW's two moments (tensors "params", "adam.m", "adam.v",
 * each of n_params) and the caller's progress in the config slots. The
 * weights make the state complete on its own. Loading needs a model of the
 * same config (a file of another size is refused by ckpt_read). */
int dynamics_save_state(const dynamics_model *dm, const char *path, const ckpt_train_progress *p, wm_error *err);
int dynamics_load_state(dynamics_model *dm, const char *path, ckpt_train_progress *p, wm_error *err);

#endif
