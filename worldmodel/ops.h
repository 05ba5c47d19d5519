/* ops.h — the world model's layers on the CPU: forward and backward passes
 * in float32, the reference every later backend (CUDA) is tested against.
 *
 * Dimension glossary:
 *     B batch   C, Ci, Co channels   H x W input pixels   Ho x Wo output pixels
 *     K kernel side   G norm groups   N codebook entries   D code dimension
 * Tensors are contiguous row-major: images (B, C, H, W), conv weights
 * (Co, Ci, K, K), linear weights (Co, Ci), codebooks (N, D).
 *
 * Conventions (llm.c's): forward passes write their outputs; backward
 * passes ADD into every gradient buffer they are given (dinp, dweight,
 * dbias), so a tensor read by two layers collects both gradients, and the
 * caller zeroes gradients once per step. A NULL gradient pointer means
 * "not needed". No function allocates: scratch space is sized by the
 * *_scratch_floats functions and passed in. Work is spread over threads
 * with OpenMP; results do not depend on the OpenMP thread count (every
 * output element has one fixed order of operations; long sums are split
 * into slices fixed by the data size, added in order, in double).
 * Convolutions run one image per thread, and linear layers one fixed slice
 * of their output columns per thread, each with a single-threaded OpenBLAS
 * sgemm: the ops set OpenBLAS to one thread, once, for the whole process,
 * so its pool never competes with OpenMP's and its rounding never changes
 * with its thread count.
 * Shapes are the caller's to check: the ops assume valid ones.
 *
 * Usage (one conv layer of a training step):
 *     conv2d_forward(out, inp, w, b, B, Ci, H, W, Co, K, stride, pad, scratch);
 *     ... loss and its gradient dout ...
 *     conv2d_backward(dinp, dw, db, dout, inp, w, B, Ci, H, W, Co, K, stride, pad, scratch);
 *     adamw_update(params, grads, m, v, n, &hp, step);
 */
#ifndef WMSIM_OPS_H
#define WMSIM_OPS_H

#include <stddef.h>

/* Output side of a convolution: (n + 2 pad - K) / stride + 1; 0 when the
 * kernel does not fit in the padded input. */
int conv2d_out_size(int n, int K, int stride, int pad);
/* Convolutions split a batch into CONV_SLICES fixed slices (at most that
 * many threads); each slice has its own scratch. */
#define CONV_SLICES 8
/* Floats of scratch conv2d_forward/backward need, whatever the batch:
 * CONV_SLICES x (im2col's Ci K² Ho Wo + the weight gradient's Co Ci K²). */
size_t conv2d_scratch_floats(int Ci, int H, int W, int Co, int K, int stride, int pad);

/* out (B, Co, Ho, Wo) = conv(inp (B, Ci, H, W), w (Co, Ci, K, K)) + b (Co, or NULL),
 * zero padding pad on every side. */
void conv2d_forward(float *out, const float *inp, const float *w, const float *b, int B, int Ci, int H, int W, int Co,
                    int K, int stride, int pad, float *scratch);
void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, int B,
                     int Ci, int H, int W, int Co, int K, int stride, int pad, float *scratch);

/* Nearest-neighbour 2x upsampling: out (B, C, 2H, 2W). */
void upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W);
void upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W);

/* Group norm over (C / G channels x HW pixels) per image and group, then a
 * per-channel affine; G divides C. mean and rstd (B, G) are saved for the
 * backward pass: rstd = 1 / sqrt(var + GROUPNORM_EPS), var the biased
 * variance. Mean and variance are accumulated in double (two passes), then
 * rounded to float; both passes normalise with those float values. */
#define GROUPNORM_EPS 1e-5
void groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *gamma, const float *beta,
                       int B, int C, int HW, int G);
void groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                        const float *mean, const float *rstd, const float *gamma, int B, int C, int HW, int G);

/* SiLU x * sigmoid(x), elementwise over n values. */
void silu_forward(float *out, const float *inp, size_t n);
void silu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out (B, Co) = inp (B, Ci) w^T (w: (Co, Ci)) + b (Co, or NULL). */
void linear_forward(float *out, const float *inp, const float *w, const float *b, int B, int Ci, int Co);
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, int B,
                     int Ci, int Co);

/* Losses, averaged over the n values; when dx is not NULL the gradient
 * d loss / d x is written (not added) there. */
float mse_loss(const float *x, const float *y, size_t n, float *dx);
float l1_loss(const float *x, const float *y, size_t n, float *dx);
/* Mean |d/dh (x - y)| + |d/dw (x - y)| over (B, C, H, W): keeps edges sharp
 * where a pixel loss alone blurs them; no weights. With e = x - y, the sum
 * of |e(h+1, w) - e(h, w)| (h < H-1) and |e(h, w+1) - e(h, w)| (w < W-1)
 * over all planes, divided by B C H W. Gradients of |0| are 0 (also in
 * l1_loss). */
float gradient_loss(const float *x, const float *y, int B, int C, int H, int W, float *dx);

/* Vector quantisation. z (B, D, HW) is read per pixel as a D-vector; each
 * takes its nearest codebook row (squared distance, ties to the lower index):
 * codes (B, HW) and zq (B, D, HW) = codebook[codes]. The distance is
 * computed as ||c||² - 2 z·c in float, summed over k = 0..D-1 in order; a
 * pixel whose distances are all NaN gets code 0. */
void vq_forward(int *codes, float *zq, const float *z, const float *codebook, int B, int D, int HW, int N);
/* The VQ-VAE losses' gradients, added: the straight-through estimator
 * passes dzq to dz unchanged, plus beta * d/dz mean ||z - sg(zq)||²
 * (commitment); the codebook gets d/dc mean ||sg(z) - c||² (codebook loss;
 * NULL when the codebook is updated by EMA instead). Returns the commitment
 * loss value (mean over B * HW * D). */
float vq_backward(float *dz, float *dcodebook, const float *dzq, const float *z, const float *codebook,
                  const int *codes, int B, int D, int HW, int N, float beta);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} adamw_params;

/* One AdamW step (decoupled weight decay) on n parameters; step counts from 1:
 *     m = beta1 m + (1 - beta1) g      v = beta2 v + (1 - beta2) g²
 *     p -= lr (mhat / (sqrt(vhat) + eps) + weight_decay p)
 * with mhat = m / (1 - beta1^step), vhat = v / (1 - beta2^step). */
void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, const adamw_params *hp, int step);
/* Scales grads so their global L2 norm is at most max_norm; returns the norm
 * before scaling (summed in double). A non-finite norm leaves grads as they
 * are, for the caller to see and skip the step. */
float grad_clip_norm(float *grads, size_t n, float max_norm);

#endif
