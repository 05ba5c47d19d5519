/* ops.c — the world model's CPU layers (see ops.h for the contract).
 *
 * Dimensions as in ops.h: B batch, C/Ci/Co channels, H x W input pixels,
 * Ho x Wo output pixels, K kernel side, G groups, N codes, D code dimension.
 *
 * Determinism: every output element is computed by one thread with a fixed
 * order of operations, so results never depend on the OpenMP thread count.
 * Sums over many elements (biases, norms, losses) are either per output
 * element (a loop over channels, say, with its own serial sum) or split into
 * NCHUNK fixed slices of the data whose partial sums are added in order at
 * the end: the slices are a function of the data size, never of the thread
 * count. Partial sums are in double.
 *
 * Convolutions run in parallel over the images of a batch, each image's
 * matrix products a single-threaded OpenBLAS sgemm on its thread with its
 * own im2col scratch. OpenBLAS is therefore held to one thread (set once,
 * see blas_single_thread): its own pthread pool and OpenMP's competed for
 * the two cores between layers, and its rounding changed with its thread
 * count (bench/ops, issue #5: 54-59 ms against 91 ms per block, and the
 * same bits whatever OMP_NUM_THREADS). The weight gradient sums over
 * images: each of CONV_SLICES fixed slices of the batch sums its images in
 * order into its own partial, and the partials are added in slice order,
 * so the sum does not depend on the thread count either. */
#include "worldmodel/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

/* Below this many elements a loop runs on one thread: waking the team costs
 * more than the work (a few microseconds). Affects speed only, never results. */
#define PAR_MIN 32768
/* Slices of a deterministic parallel sum (see the top of the file). */
#define NCHUNK 64

/* ---- conv2d ------------------------------------------------------------- */

int conv2d_out_size(int n, int K, int stride, int pad) {
    if (n + 2 * pad < K || stride < 1) return 0;
    return (n + 2 * pad - K) / stride + 1;
}

/* One slice's scratch: its im2col buffer, then its weight-gradient partial. */
static size_t cols_floats(int Ci, int H, int W, int K, int stride, int pad) {
    return (size_t)Ci * K * K * conv2d_out_size(H, K, stride, pad) * conv2d_out_size(W, K, stride, pad);
}

size_t conv2d_scratch_floats(int Ci, int H, int W, int Co, int K, int stride, int pad) {
    return CONV_SLICES * (cols_floats(Ci, H, W, K, stride, pad) + (size_t)Co * Ci * K * K);
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void set_blas_single_thread(void) { openblas_set_num_threads(1); }
/* OpenBLAS's thread count is process-wide; every sgemm here assumes one. */
static void blas_single_thread(void) { pthread_once(&blas_once, set_blas_single_thread); }

/* Threads for a loop over `items` independent convolution images. */
static int conv_threads(int items) {
    int t = omp_get_max_threads();
    if (t > CONV_SLICES) t = CONV_SLICES;
    return t < items ? t : items < 1 ? 1 : items;
}

/* The output columns ow whose input column ow*stride - pad + kw lies inside
 * [0, W): [*lo, *hi), clamped to [0, Wo]. Outside it the padding reads 0. */
static void valid_cols(int W, int Wo, int kw, int stride, int pad, int *lo, int *hi) {
    int l = pad - kw > 0 ? (pad - kw + stride - 1) / stride : 0;
    int last = W - 1 + pad - kw; /* largest ow*stride that stays inside */
    int h = last < 0 ? 0 : last / stride + 1;
    if (h > Wo) h = Wo;
    if (l > h) l = h;
    *lo = l, *hi = h;
}

/* cols (Ci*K*K, Ho*Wo): row (ci, kh, kw) holds, for every output pixel, the
 * input pixel that kernel tap multiplies (0 in the padding). */
static void im2col(float *cols, const float *img, int Ci, int H, int W, int K, int stride, int pad, int Ho, int Wo) {
    const int rows = Ci * K * K;
    const size_t plane = (size_t)Ho * Wo;
    for (int r = 0; r < rows; r++) {
        const int kw = r % K, kh = r / K % K, ci = r / (K * K);
        const float *src = img + (size_t)ci * H * W;
        float *dst = cols + (size_t)r * plane;
        int lo, hi;
        valid_cols(W, Wo, kw, stride, pad, &lo, &hi);
        for (int oh = 0; oh < Ho; oh++) {
            const int ih = oh * stride - pad + kh;
            float *d = dst + (size_t)oh * Wo;
            if (ih < 0 || ih >= H) {
                memset(d, 0, (size_t)Wo * sizeof *d);
                continue;
            }
            const float *s = src + (size_t)ih * W - pad + kw; /* s[ow * stride] for ow in [lo, hi) */
            for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
            if (stride == 1) {
                if (hi > lo) memcpy(d + lo, s + lo, (size_t)(hi - lo) * sizeof *d);
            } else {
                for (int ow = lo; ow < hi; ow++) d[ow] = s[(size_t)ow * stride];
            }
            for (int ow = hi; ow < Wo; ow++) d[ow] = 0.0f;
        }
    }
}

/* img += the transpose of im2col applied to cols; each pixel adds its taps
 * in the order (kh, kw). */
static void col2im_add(float *img, const float *cols, int Ci, int H, int W, int K, int stride, int pad, int Ho,
                       int Wo) {
    const size_t plane = (size_t)Ho * Wo;
    for (int ci = 0; ci < Ci; ci++) {
        float *dst = img + (size_t)ci * H * W;
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = cols + ((size_t)(ci * K + kh) * K + kw) * plane;
                int lo, hi;
                valid_cols(W, Wo, kw, stride, pad, &lo, &hi);
                for (int oh = 0; oh < Ho; oh++) {
                    const int ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    float *d = dst + (size_t)ih * W - pad + kw;
                    const float *s = src + (size_t)oh * Wo;
                    for (int ow = lo; ow < hi; ow++) d[(size_t)ow * stride] += s[ow];
                }
            }
    }
}

/* A 1x1 convolution with stride 1 and no padding: im2col is the identity. */
static int conv_is_pointwise(int K, int stride, int pad) { return K == 1 && stride == 1 && pad == 0; }

void conv2d_forward(float *out, const float *inp, const float *w, const float *b, int B, int Ci, int H, int W, int Co,
                    int K, int stride, int pad, float *scratch) {
    const int Ho = conv2d_out_size(H, K, stride, pad), Wo = conv2d_out_size(W, K, stride, pad);
    const int P = Ho * Wo, R = Ci * K * K;
    const size_t slice = conv2d_scratch_floats(Ci, H, W, Co, K, stride, pad) / CONV_SLICES;
    blas_single_thread();
#pragma omp parallel for schedule(static) num_threads(conv_threads(B))
    for (int bi = 0; bi < B; bi++) {
        const float *x = inp + (size_t)bi * Ci * H * W;
        const float *cols = x;
        float *mine = scratch + (size_t)omp_get_thread_num() * slice;
        if (!conv_is_pointwise(K, stride, pad)) {
            im2col(mine, x, Ci, H, W, K, stride, pad, Ho, Wo);
            cols = mine;
        }
        /* out_b (Co, P) = w (Co, R) cols (R, P) */
        float *o = out + (size_t)bi * Co * P;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, P, R, 1.0f, w, R, cols, P, 0.0f, o, P);
        if (b)
            for (int co = 0; co < Co; co++)
                for (int p = 0; p < P; p++) o[(size_t)co * P + p] += b[co];
    }
}

void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, int B,
                     int Ci, int H, int W, int Co, int K, int stride, int pad, float *scratch) {
    const int Ho = conv2d_out_size(H, K, stride, pad), Wo = conv2d_out_size(W, K, stride, pad);
    const int P = Ho * Wo, R = Ci * K * K;
    const int pointwise = conv_is_pointwise(K, stride, pad);
    const size_t ncols = cols_floats(Ci, H, W, K, stride, pad), slice = ncols + (size_t)Co * R;
    blas_single_thread();
    if (db) {
        for (int co = 0; co < Co; co++) {
            double s = 0.0;
            for (int bi = 0; bi < B; bi++) {
                const float *d = dout + ((size_t)bi * Co + co) * P;
                for (int p = 0; p < P; p++) s += d[p];
            }
            db[co] += (float)s;
        }
    }
    /* Slice s owns images [s B / CONV_SLICES, (s + 1) B / CONV_SLICES) and
     * its part of scratch: im2col columns, then its dw partial. */
#pragma omp parallel for schedule(static) num_threads(conv_threads(B))
    for (int s = 0; s < CONV_SLICES; s++) {
        float *cols_buf = scratch + (size_t)s * slice, *dw_part = cols_buf + ncols;
        int first = (int)((long)s * B / CONV_SLICES), last = (int)((long)(s + 1) * B / CONV_SLICES);
        if (dw && first < last) memset(dw_part, 0, (size_t)Co * R * sizeof *dw_part);
        for (int bi = first; bi < last; bi++) {
            const float *x = inp + (size_t)bi * Ci * H * W;
            const float *g = dout + (size_t)bi * Co * P;
            if (dw) {
                const float *cols = x;
                if (!pointwise) {
                    im2col(cols_buf, x, Ci, H, W, K, stride, pad, Ho, Wo);
                    cols = cols_buf;
                }
                /* dw_part (Co, R) += dout_b (Co, P) cols^T (P, R) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, R, P, 1.0f, g, P, cols, P, 1.0f, dw_part, R);
            }
            if (dinp) {
                float *dx = dinp + (size_t)bi * Ci * H * W;
                /* dcols (R, P) = w^T (R, Co) dout_b (Co, P), added straight into
                 * dinp when im2col is the identity, else through col2im. */
                if (pointwise) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, P, Co, 1.0f, w, R, g, P, 1.0f, dx, P);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, P, Co, 1.0f, w, R, g, P, 0.0f, cols_buf, P);
                    col2im_add(dx, cols_buf, Ci, H, W, K, stride, pad, Ho, Wo);
                }
            }
        }
    }
    if (!dw) return;
    const size_t n = (size_t)Co * R;
    for (int s = 0; s < CONV_SLICES; s++) {
        const float *part = scratch + (size_t)s * slice + ncols;
        if ((long)s * B / CONV_SLICES == (long)(s + 1) * B / CONV_SLICES) continue;
        for (size_t i = 0; i < n; i++) dw[i] += part[i];
    }
}

/* ---- upsample2x ---------------------------------------------------------- */

void upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W) {
    const int W2 = 2 * W;
#pragma omp parallel for schedule(static) if ((size_t)B * C * H * W >= PAR_MIN / 4)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * H * W;
        float *o = out + (size_t)bc * 4 * H * W;
        for (int h = 0; h < H; h++) {
            float *o0 = o + (size_t)2 * h * W2, *o1 = o0 + W2;
            for (int x0 = 0; x0 < W; x0++) {
                const float v = x[(size_t)h * W + x0];
                o0[2 * x0] = o0[2 * x0 + 1] = o1[2 * x0] = o1[2 * x0 + 1] = v;
            }
        }
    }
}

void upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W) {
    const int W2 = 2 * W;
#pragma omp parallel for schedule(static) if ((size_t)B * C * H * W >= PAR_MIN / 4)
    for (int bc = 0; bc < B * C; bc++) {
        float *dx = dinp + (size_t)bc * H * W;
        const float *g = dout + (size_t)bc * 4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *g0 = g + (size_t)2 * h * W2, *g1 = g0 + W2;
            for (int x0 = 0; x0 < W; x0++)
                dx[(size_t)h * W + x0] += (g0[2 * x0] + g0[2 * x0 + 1]) + (g1[2 * x0] + g1[2 * x0 + 1]);
        }
    }
}

/* ---- groupnorm ------------------------------------------------------------ */

void groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *gamma, const float *beta,
                       int B, int C, int HW, int G) {
    const int Cg = C / G;
    const size_t n = (size_t)Cg * HW; /* one (image, group) block, contiguous */
#pragma omp parallel for schedule(static) if ((size_t)B * C * HW >= PAR_MIN)
    for (int bg = 0; bg < B * G; bg++) {
        const float *x = inp + (size_t)bg * n;
        float *o = out + (size_t)bg * n;
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += x[i];
        const double mu = s / (double)n;
        double v = 0.0; /* two passes: no cancellation when |mean| >> sd */
        for (size_t i = 0; i < n; i++) v += (x[i] - mu) * (x[i] - mu);
        /* The forward pass normalises with the float values it saves, so the
         * backward pass is the exact derivative of what was computed. */
        const float m = (float)mu, r = (float)(1.0 / sqrt(v / (double)n + GROUPNORM_EPS));
        mean[bg] = m, rstd[bg] = r;
        const int g = bg % G;
        for (int c = 0; c < Cg; c++) {
            const float ga = gamma[g * Cg + c], be = beta[g * Cg + c];
            const float *xc = x + (size_t)c * HW;
            float *oc = o + (size_t)c * HW;
            for (int p = 0; p < HW; p++) oc[p] = (xc[p] - m) * r * ga + be;
        }
    }
}

void groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                        const float *mean, const float *rstd, const float *gamma, int B, int C, int HW, int G) {
    const int Cg = C / G;
    const size_t n = (size_t)Cg * HW;
    const int par = (size_t)B * C * HW >= PAR_MIN;
    if (dinp) {
        /* With xhat = (x - m) r and dy = dout * gamma:
         * dx = r (dy - mean(dy) - xhat mean(dy xhat)) over the block. */
#pragma omp parallel for schedule(static) if (par)
        for (int bg = 0; bg < B * G; bg++) {
            const float *x = inp + (size_t)bg * n, *g = dout + (size_t)bg * n;
            float *dx = dinp + (size_t)bg * n;
            const float m = mean[bg], r = rstd[bg];
            const int g0 = bg % G * Cg;
            double sd = 0.0, sdx = 0.0;
            for (int c = 0; c < Cg; c++) {
                const float ga = gamma[g0 + c];
                for (int p = 0; p < HW; p++) {
                    const size_t i = (size_t)c * HW + p;
                    const float dy = g[i] * ga, xhat = (x[i] - m) * r;
                    sd += dy, sdx += (double)dy * xhat;
                }
            }
            const float md = (float)(sd / (double)n), mdx = (float)(sdx / (double)n);
            for (int c = 0; c < Cg; c++) {
                const float ga = gamma[g0 + c];
                for (int p = 0; p < HW; p++) {
                    const size_t i = (size_t)c * HW + p;
                    const float dy = g[i] * ga, xhat = (x[i] - m) * r;
                    dx[i] += r * (dy - md - xhat * mdx);
                }
            }
        }
    }
    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if (par)
        for (int c = 0; c < C; c++) {
            double sg = 0.0, sb = 0.0;
            for (int bi = 0; bi < B; bi++) {
                const size_t off = ((size_t)bi * C + c) * HW;
                const float m = mean[bi * G + c / Cg], r = rstd[bi * G + c / Cg];
                for (int p = 0; p < HW; p++) {
                    const float xhat = (inp[off + p] - m) * r;
                    sg += (double)dout[off + p] * xhat, sb += dout[off + p];
                }
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
}

/* ---- silu ------------------------------------------------------------------ */

void silu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + expf(-inp[i]));
}

void silu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    /* d/dx x s(x) = s (1 + x (1 - s)), s the sigmoid. */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i], s = 1.0f / (1.0f + expf(-x));
        dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

/* ---- linear ---------------------------------------------------------------- */

/* Linear layers split their output columns (or, for the weight gradient,
 * its rows) into LINEAR_SLICES fixed slices, one single-threaded sgemm
 * each: the slices depend on the sizes alone, so the bits do not depend on
 * the thread count. Products under LINEAR_PAR_MIN multiply-adds stay whole. */
#define LINEAR_SLICES CONV_SLICES
#define LINEAR_PAR_MIN 262144

static int linear_slices(int B, int Ci, int Co, int n) {
    return (size_t)B * Ci * Co >= LINEAR_PAR_MIN && n >= LINEAR_SLICES ? LINEAR_SLICES : 1;
}

/* [*lo, *hi): slice k of n columns cut into `slices`. */
static void slice_range(int n, int slices, int k, int *lo, int *hi) {
    *lo = (int)((long)n * k / slices), *hi = (int)((long)n * (k + 1) / slices);
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int B, int Ci, int Co) {
    blas_single_thread();
    const int slices = linear_slices(B, Ci, Co, Co);
    /* out[:, lo:hi] (B, hi - lo) = inp (B, Ci) w[lo:hi]^T */
#pragma omp parallel for schedule(static) num_threads(conv_threads(slices))
    for (int k = 0; k < slices; k++) {
        int lo, hi;
        slice_range(Co, slices, k, &lo, &hi);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, hi - lo, Ci, 1.0f, inp, Ci, w + (size_t)lo * Ci, Ci,
                    0.0f, out + lo, Co);
    }
    if (!b) return;
#pragma omp parallel for schedule(static) if ((size_t)B * Co >= PAR_MIN)
    for (int bi = 0; bi < B; bi++)
        for (int o = 0; o < Co; o++) out[(size_t)bi * Co + o] += b[o];
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w, int B,
                     int Ci, int Co) {
    blas_single_thread();
    if (dinp) {
        const int slices = linear_slices(B, Ci, Co, Ci);
        /* dinp[:, lo:hi] += dout (B, Co) w[:, lo:hi] */
#pragma omp parallel for schedule(static) num_threads(conv_threads(slices))
        for (int k = 0; k < slices; k++) {
            int lo, hi;
            slice_range(Ci, slices, k, &lo, &hi);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, hi - lo, Co, 1.0f, dout, Co, w + lo, Ci, 1.0f,
                        dinp + lo, Ci);
        }
    }
    if (dw) {
        const int slices = linear_slices(B, Ci, Co, Co);
        /* dw[lo:hi] (hi - lo, Ci) += dout[:, lo:hi]^T inp */
#pragma omp parallel for schedule(static) num_threads(conv_threads(slices))
        for (int k = 0; k < slices; k++) {
            int lo, hi;
            slice_range(Co, slices, k, &lo, &hi);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, Ci, B, 1.0f, dout + lo, Co, inp, Ci, 1.0f,
                        dw + (size_t)lo * Ci, Ci);
        }
    }
    if (db) {
#pragma omp parallel for schedule(static) if ((size_t)B * Co >= PAR_MIN)
        for (int o = 0; o < Co; o++) {
            double s = 0.0;
            for (int bi = 0; bi < B; bi++) s += dout[(size_t)bi * Co + o];
            db[o] += (float)s;
        }
    }
}

/* ---- losses ---------------------------------------------------------------- */

/* Slice c of NCHUNK over n items: [lo, hi). */
static void chunk_range(size_t n, int c, size_t *lo, size_t *hi) {
    *lo = n / NCHUNK * c + (n % NCHUNK < (size_t)c ? n % NCHUNK : (size_t)c);
    *hi = *lo + n / NCHUNK + ((size_t)c < n % NCHUNK);
}

static double sum_parts(const double *part) {
    double s = 0.0;
    for (int c = 0; c < NCHUNK; c++) s += part[c];
    return s;
}

float mse_loss(const float *x, const float *y, size_t n, float *dx) {
    double part[NCHUNK];
    const float scale = (float)(2.0 / (double)n);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo, hi;
        chunk_range(n, c, &lo, &hi);
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) {
            const float e = x[i] - y[i];
            s += (double)e * e;
            if (dx) dx[i] = scale * e;
        }
        part[c] = s;
    }
    return (float)(sum_parts(part) / (double)n);
}

static float signf(float e) { return e > 0.0f ? 1.0f : e < 0.0f ? -1.0f : 0.0f; }

float l1_loss(const float *x, const float *y, size_t n, float *dx) {
    double part[NCHUNK];
    const float scale = (float)(1.0 / (double)n);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo, hi;
        chunk_range(n, c, &lo, &hi);
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) {
            const float e = x[i] - y[i];
            s += fabsf(e);
            if (dx) dx[i] = scale * signf(e);
        }
        part[c] = s;
    }
    return (float)(sum_parts(part) / (double)n);
}

float gradient_loss(const float *x, const float *y, int B, int C, int H, int W, float *dx) {
    const size_t planes = (size_t)B * C, hw = (size_t)H * W, n = planes * hw;
    const float scale = (float)(1.0 / (double)n);
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo, hi;
        chunk_range(planes, c, &lo, &hi);
        double s = 0.0;
        for (size_t pl = lo; pl < hi; pl++) {
            const float *a = x + pl * hw, *t = y + pl * hw;
            float *d = dx ? dx + pl * hw : NULL;
            /* e = x - y; each pixel's |e(h+1) - e(h)| and |e(w+1) - e(w)|
             * count once; the gradient is gathered per pixel from the
             * (up to four) differences it enters. */
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++) {
                    const size_t i = (size_t)h * W + w;
                    const float e = a[i] - t[i];
                    float g = 0.0f;
                    if (h + 1 < H) {
                        const float dv = (a[i + W] - t[i + W]) - e;
                        s += fabsf(dv), g -= signf(dv);
                    }
                    if (w + 1 < W) {
                        const float dh = (a[i + 1] - t[i + 1]) - e;
                        s += fabsf(dh), g -= signf(dh);
                    }
                    if (h > 0) g += signf(e - (a[i - W] - t[i - W]));
                    if (w > 0) g += signf(e - (a[i - 1] - t[i - 1]));
                    if (d) d[i] = scale * g;
                }
        }
        part[c] = s;
    }
    return (float)(sum_parts(part) / (double)n);
}

/* ---- vector quantisation ------------------------------------------------- */

enum { VQ_TILE = 16 }; /* pixels compared against each code at once */

/* Nearest codes for np <= VQ_TILE pixels z[k * HW + p], p < np. The distance
 * ||c||² - 2 z·c (||z||² is the same for every code) is summed in float in
 * the order k = 0..D-1 for every pixel, whatever np is. */
static inline void vq_tile(int *codes, float *zq, const float *z, const float *codebook, int D, int HW, int N, int np) {
    float best[VQ_TILE];
    int arg[VQ_TILE];
    for (int p = 0; p < np; p++) best[p] = INFINITY, arg[p] = 0;
    for (int n = 0; n < N; n++) {
        const float *c = codebook + (size_t)n * D;
        float cc = 0.0f, dot[VQ_TILE];
        for (int p = 0; p < np; p++) dot[p] = 0.0f;
        for (int k = 0; k < D; k++) {
            const float ck = c[k], *zk = z + (size_t)k * HW;
            cc += ck * ck;
            for (int p = 0; p < np; p++) dot[p] += ck * zk[p];
        }
        for (int p = 0; p < np; p++) {
            const float d = cc - 2.0f * dot[p];
            if (d < best[p]) best[p] = d, arg[p] = n; /* strict: ties keep the lower index */
        }
    }
    for (int p = 0; p < np; p++) {
        codes[p] = arg[p];
        const float *c = codebook + (size_t)arg[p] * D;
        for (int k = 0; k < D; k++) zq[(size_t)k * HW + p] = c[k];
    }
}

void vq_forward(int *codes, float *zq, const float *z, const float *codebook, int B, int D, int HW, int N) {
    const int tiles = (HW + VQ_TILE - 1) / VQ_TILE;
#pragma omp parallel for schedule(dynamic, 1) if ((size_t)B * HW * N * D >= PAR_MIN)
    for (int t = 0; t < B * tiles; t++) {
        const int b = t / tiles, p0 = t % tiles * VQ_TILE;
        const size_t off = (size_t)b * D * HW + p0;
        int *cd = codes + (size_t)b * HW + p0;
        if (p0 + VQ_TILE <= HW)
            vq_tile(cd, zq + off, z + off, codebook, D, HW, N, VQ_TILE); /* constant trip count: vectorised */
        else
            vq_tile(cd, zq + off, z + off, codebook, D, HW, N, HW - p0);
    }
}

float vq_backward(float *dz, float *dcodebook, const float *dzq, const float *z, const float *codebook,
                  const int *codes, int B, int D, int HW, int N, float beta) {
    (void)N;
    const size_t rows = (size_t)B * D, n = rows * HW; /* rows (b, k) of HW pixels */
    const float scale = (float)(2.0 / (double)n);
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo, hi;
        chunk_range(rows, c, &lo, &hi);
        double s = 0.0;
        for (size_t r = lo; r < hi; r++) {
            const size_t b = r / D, k = r % D;
            const int *cd = codes + b * HW;
            for (int p = 0; p < HW; p++) {
                const size_t i = r * HW + p;
                const float e = z[i] - codebook[(size_t)cd[p] * D + k]; /* z - sg(zq) */
                s += (double)e * e;
                if (dz) dz[i] += dzq[i] + beta * scale * e;
            }
        }
        part[c] = s;
    }
    if (dcodebook) {
        /* d/dc mean ||sg(z) - c||² = 2 (c - z) / n for each pixel coded c.
         * Codes gather from many pixels, so the work is split by dimension
         * k: each thread owns column k of the codebook gradient and visits
         * the pixels in order. */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (int k = 0; k < D; k++)
            for (int b = 0; b < B; b++) {
                const float *zk = z + ((size_t)b * D + k) * HW;
                const int *cd = codes + (size_t)b * HW;
                for (int p = 0; p < HW; p++) {
                    const size_t j = (size_t)cd[p] * D + k;
                    dcodebook[j] += scale * (codebook[j] - zk[p]);
                }
            }
    }
    return (float)(sum_parts(part) / (double)n);
}

/* ---- optimiser ------------------------------------------------------------- */

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, const adamw_params *hp, int step) {
    const float b1 = hp->beta1, b2 = hp->beta2, lr = hp->lr, eps = hp->eps, wd = hp->weight_decay;
    const float c1 = (float)(1.0 / (1.0 - pow(b1, step))), c2 = (float)(1.0 / (1.0 - pow(b2, step)));
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const float g = grads[i];
        const float mi = b1 * m[i] + (1.0f - b1) * g, vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi, v[i] = vi;
        params[i] -= lr * (mi * c1 / (sqrtf(vi * c2) + eps) + wd * params[i]);
    }
}

float grad_clip_norm(float *grads, size_t n, float max_norm) {
    double part[NCHUNK];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (int c = 0; c < NCHUNK; c++) {
        size_t lo, hi;
        chunk_range(n, c, &lo, &hi);
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        part[c] = s;
    }
    const double norm = sqrt(sum_parts(part));
    if (isfinite(norm) && norm > max_norm) {
        const float k = (float)(max_norm / norm);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) grads[i] *= k;
    }
    return (float)norm;
}
