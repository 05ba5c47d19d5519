/* transformer_ops.h — the dynamics transformer's layers on the CPU: forward
 * and backward passes in float32, the reference later backends are tested
 * against. The linear layers and the optimiser are ops.h's.
 *
 * Dimension glossary:
 *     B batch   T sequence length (positions)   C channels   NH heads
 *     hs = C / NH head size   V vocabulary (logits per position)
 *     N rows (usually B T)   block positions per mask block (see attention)
 *     T_max positions a KV cache holds   t0 first new position   Tn new positions
 * Tensors are contiguous row-major: activations (B, T, C) = (N, C); qkv
 * (B, T, 3C) with q, k, v each C wide and the heads contiguous within each
 * (head h's q is channels [h hs, (h + 1) hs) of the first C, as llm.c);
 * attention maps (B, NH, T, T); KV caches (B, NH, T_max, hs); embedding
 * tables (V, C); logits and probabilities (N, V).
 *
 * Conventions (ops.h's): forward passes write their outputs; backward passes
 * ADD into every parameter or input gradient they are given (dinp, dweight,
 * dtable, dqkv, dlogits); a NULL gradient means "not needed". The two
 * exceptions are attention_backward's datt and dpreatt: intermediate
 * gradients the pass writes (whatever they held) and then reads, so they
 * need no zeroing. No function allocates. Results do not depend on the
 * OpenMP thread count: every output element is computed by one thread in a
 * fixed order (gradients that gather from many rows — a norm's weight, an
 * embedding row, a key — are owned by one thread that visits the rows in
 * order); sums that normalise (norm statistics, softmax denominators, the
 * mean loss) are accumulated in double. Shapes and ids are the caller's to
 * check: the ops assume valid ones (0 <= id < V, 1 <= block, NH divides C,
 * t0 + Tn <= T_max).
 *
 * Usage (one pre-norm block of a training step, x (B, T, C), N = B T):
 *     rmsnorm_forward(ln, rstd, x, w_ln, N, C);
 *     linear_forward(qkv, ln, w_qkv, NULL, N, C, 3 * C);
 *     attention_forward(att_out, NULL, att, qkv, B, T, C, NH, block);
 *     ... projection, residual, MLP (linear, gelu_forward, linear), logits ...
 *     crossentropy_forward(losses, probs, logits, targets, N, V);
 *     crossentropy_softmax_backward(dlogits, probs, targets, 1.0f / crossentropy_counted(targets, N), N, V);
 *     ... back through the MLP and projection into datt_out ...
 *     attention_backward(dqkv, dpreatt, datt, datt_out, qkv, att, B, T, C, NH, block);
 *     linear_backward(dln, dw_qkv, NULL, dqkv, ln, w_qkv, N, C, 3 * C);
 *     rmsnorm_backward(dx, dw_ln, dln, x, rstd, w_ln, N, C);
 * Generation with a KV cache (per layer, caches (B, NH, T_max, hs)): for
 * each new position t (Tn = 1, block 1) or each new frame of L tokens
 * (t0 = its first position, Tn = L, block = L):
 *     linear_forward(qkv, ln, w_qkv, NULL, B * Tn, C, 3 * C);
 *     attention_cache_write(kcache, vcache, qkv, B, t0, Tn, T_max, C, NH);
 *     attention_forward_cached(att_out, att, qkv, kcache, vcache, B, t0, Tn, T_max, C, NH, block);
 */
#ifndef WMSIM_TRANSFORMER_OPS_H
#define WMSIM_TRANSFORMER_OPS_H

#include <stddef.h>

/* RMS norm per row of C, then a per-channel weight (no bias, no mean):
 *     out = inp rstd weight,   rstd = 1 / sqrt(mean(inp²) + RMSNORM_EPS),
 * rstd (N) saved for the backward pass: accumulated in double, rounded to
 * float, and the forward pass normalises with that float value. */
#define RMSNORM_EPS 1e-5
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C);
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *rstd,
                      const float *weight, int N, int C);

/* GELU, tanh approximation (GPT-2's), elementwise over n values:
 *     0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x³))). */
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out (N, C) = rows ids[n] of table (V, C). Learned position embeddings are
 * the same op with ids = positions. The backward pass adds dout's rows into
 * the rows of dtable they came from; an id used several times collects the
 * sum of its rows, added in the order of n. */
void embedding_forward(float *out, const int *ids, const float *table, int N, int C);
void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C);

/* Multi-head attention with a block-causal mask: position t attends to
 * position s iff s / block <= t / block (integer division). block = 1 is
 * ordinary causal attention; block = L lets each group of L consecutive
 * positions (a frame's tokens) see each other and every earlier group, for
 * parallel decoding of a frame. Per batch, head and position t:
 *     preatt[s] = q_t · k_s / sqrt(hs)    att = softmax over the visible s
 *     out_t = sum_s att[s] v_s            (head h's hs channels of out)
 * qkv (B, T, 3C); out (B, T, C); preatt and att (B, NH, T, T), masked
 * entries 0 in both. The softmax subtracts the row's maximum; its sum is in
 * double. preatt may be NULL: the backward pass reads only att. */
void attention_forward(float *out, float *preatt, float *att, const float *qkv, int B, int T, int C, int NH, int block);
/* Adds into dqkv (B, T, 3C) the gradient of out given dout (B, T, C). datt
 * and dpreatt (B, NH, T, T) are written: the gradients with respect to att
 * and preatt (masked entries 0), the second read again to gather the keys'
 * gradients. A NULL dqkv: nothing is done. */
void attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout, const float *qkv, const float *att,
                        int B, int T, int C, int NH, int block);

/* Incremental decoding. A KV cache holds, per layer, the keys and the values
 * of every position so far: kcache and vcache (B, NH, T_max, hs), position s
 * of head h of sequence b at ((b NH + h) T_max + s) hs.
 * attention_cache_write copies the k and v of Tn new positions t0 .. t0+Tn-1
 * from their qkv (B, Tn, 3C) into positions t0 .. t0+Tn-1 of the caches. */
void attention_cache_write(float *kcache, float *vcache, const float *qkv, int B, int t0, int Tn, int T_max, int C,
                           int NH);
/* Attention of the Tn new positions (their q read from qkv (B, Tn, 3C)) over
 * the cache, whose positions 0 .. t0+Tn-1 must be written (the new ones
 * included): position t sees s iff s / block <= t / block and s < t0 + Tn
 * (what the cache holds). With Tn = 1 and block = 1 this is one step of
 * token-by-token decoding; with t0 a multiple of block and Tn = block, a
 * whole block at once. Either way out (B, Tn, C) is what attention_forward
 * with the same block gives at those positions for the whole sequence (the
 * same arithmetic, in the same order). att (B, NH, Tn, T_max): the softmax
 * weights, entries s < t0 + Tn written (masked ones 0), the rest untouched. */
void attention_forward_cached(float *out, float *att, const float *qkv, const float *kcache, const float *vcache, int B,
                              int t0, int Tn, int T_max, int C, int NH, int block);

/* Softmax cross-entropy over V logits per row: probs (N, V) = softmax(logits)
 * (maximum subtracted, the sum in double) and losses (N) = -log p[target],
 * computed as log(sum) - (logit[target] - max) so a tiny p does not lose
 * precision. A target < 0 marks a row to ignore: its loss is 0 (its probs
 * are still written). Returns the mean loss over the counted rows (target
 * >= 0), 0 when there are none. */
float crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets, int N, int V);
/* Rows with target >= 0: the count a mean loss divides by. */
int crossentropy_counted(const int *targets, int N);
/* Adds dloss_scale (probs - onehot(target)) into the counted rows of dlogits
 * (N, V), the gradient of dloss_scale x the sum of their losses; ignored rows
 * get nothing. For the gradient of the mean, dloss_scale = 1 / counted. */
void crossentropy_softmax_backward(float *dlogits, const float *probs, const int *targets, float dloss_scale, int N,
                                   int V);

#endif
