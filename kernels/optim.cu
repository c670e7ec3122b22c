// optim.cu: optimizer steps, one thread per parameter, and the step's
// decision on the device.
//
//   decide:       flags[0] = l[0:checked] all finite; flags[1], flags[2] =
//                 update the decoder, the discriminator (the equilibrium rule)
//   restore:      dst = saved when *ok == 0 (undo a stopped step)
//   adam_step:    m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g²,
//                 p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
//                 (torch.optim.Adam without weight decay; bc1 = 1-b1^t, bc2 = 1-b2^t,
//                 read from device memory: bc = [bc1, bc2])
//   rmsprop_step: v = alpha*v + (1-alpha)*g², p -= lr*g/(sqrt(v) + eps)
//                 (torch.optim.RMSprop, not centred, no momentum)
//   average:      avg += (1-decay)*(w-avg) (the decoder's moving average)
//
// The updates take a flag `on` written by decide (or NULL): when it is 0,
// they return at once. The host queues them without waiting for the losses.
//
// Versions: v1, grid-stride loops; v2, flags.
#include "common.cuh"

// off is whether the update flag on is given and 0.
static __device__ inline bool off(const float* on) { return on != NULL && *on == 0.0f; }

// decide is backend.Decision.Judge, run by one thread: l holds the losses
// and the networks' sums of squares; real, rec (-1: none) and gen index the
// discriminator's mean errors; low and high are the equilibrium rule's
// thresholds (equilibrium != 0: apply it).
extern "C" __global__ void decide(float* flags, const float* l, int checked, int equilibrium,
                                  int real, int rec, int gen, float low, float high) {
    if (blockIdx.x != 0 || threadIdx.x != 0) {
        return;
    }
    bool ok = true;
    for (int i = 0; i < checked; i++) {
        ok = ok && isfinite(l[i]);
    }
    bool dec = ok, dis = ok;
    if (ok && equilibrium) {
        float r = l[real], f = l[gen];
        if (rec >= 0) {
            f = (l[rec] + f) / 2.0f;
        }
        dis = !(r < low || f < low);
        dec = !(r > high || f > high);
        if (!dis && !dec) {
            dis = dec = true;
        }
    }
    flags[0] = ok ? 1.0f : 0.0f;
    flags[1] = dec ? 1.0f : 0.0f;
    flags[2] = dis ? 1.0f : 0.0f;
}

extern "C" __global__ void restore(float* dst, const float* saved, const float* ok, int n) {
    if (*ok != 0.0f) {
        return;
    }
    GRID_STRIDE(i, n) {
        dst[i] = saved[i];
    }
}

extern "C" __global__ void adam_step(float* p, const float* g, float* m, float* v, const float* on, const float* bc,
                                     int n, float lr, float b1, float b2, float eps) {
    if (off(on)) {
        return;
    }
    float bc1 = bc[0], bc2 = bc[1];
    float step = lr / bc1, sbc2 = sqrtf(bc2);
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (sqrtf(vi) / sbc2 + eps);
    }
}

extern "C" __global__ void rmsprop_step(float* p, const float* g, float* v, const float* on, int n,
                                        float lr, float alpha, float eps) {
    if (off(on)) {
        return;
    }
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float vi = alpha * v[i] + (1.0f - alpha) * gi * gi;
        v[i] = vi;
        p[i] -= lr * gi / (sqrtf(vi) + eps);
    }
}

extern "C" __global__ void average(float* avg, const float* w, const float* on, int n, float decay) {
    if (off(on)) {
        return;
    }
    float rate = 1.0f - decay;
    GRID_STRIDE(i, n) {
        avg[i] += rate * (w[i] - avg[i]);
    }
}
