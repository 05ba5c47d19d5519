/* wmsim_policy.h — the C ABI of a shared-library driving policy
 * (`wmsim run SCENARIO --policy lib:PATH.so [ARGS]`). Plain C, no wmsim
 * headers: a policy is built against this file alone.
 *
 * The library exports these five functions (extern "C" from C++):
 *
 *     int   wmsim_policy_abi_version(void);   // returns WMSIM_POLICY_ABI_VERSION
 *     void *wmsim_policy_create(const char *args, char *err, size_t err_len);
 *     int   wmsim_policy_reset(void *p, const char *episode_id, char *err, size_t err_len);
 *     int   wmsim_policy_step(void *p, const wmsim_policy_observation *obs,
 *                             wmsim_policy_action *act, char *err, size_t err_len);
 *     void  wmsim_policy_destroy(void *p);
 *
 * create gets the text after the library path in the --policy spec ("" if
 * none) and returns the policy's state, or NULL with a reason in err.
 * reset starts an episode; step answers one 0.1 s control step: wmsim
 * zeroes *act, the policy fills accel, brake, steer and optionally
 * reasoning and the planned trajectory (both recorded in the episode log;
 * n_trajectory outside [0, 32] or a non-finite point is a policy error). A non-zero return from reset or step
 * ends the episode as a policy error with err's text (NUL-terminated,
 * err_len bytes at most). The observation's pointers live until step
 * returns. Calls come from one thread at a time.
 *
 * A library runs inside wmsim: a crash there is wmsim's crash. Policies
 * that may crash or hang belong in a process (`--policy exec:`), where a
 * timeout and a crash end only their episode. */
#ifndef WMSIM_POLICY_ABI_H
#define WMSIM_POLICY_ABI_H

#include <stddef.h>
#include <stdint.h>

#define WMSIM_POLICY_ABI_VERSION 1
#define WMSIM_POLICY_REASONING_MAX 256
#define WMSIM_POLICY_TRAJECTORY_MAX 32

typedef struct {
    const char *camera;  /* "front" */
    int width, height;
    const uint8_t *rgb;  /* width * height * 3 bytes, rows from the top */
} wmsim_policy_frame;

typedef struct {
    const char *episode_id; /* "SCENARIO_ID/SEED" */
    int step;               /* 0, 1, ... */
    double t_s;             /* step * 0.1 */
    int n_frames;
    const wmsim_policy_frame *frames;
    double speed_mps, yaw_rate_rps;
    const char *instruction;
    double accel_max, brake_max, steer_max; /* the limits the answer must respect */
} wmsim_policy_observation;

typedef struct {
    double x_m, y_m, t_s; /* ego frame at the observation: x ahead, y left */
} wmsim_policy_waypoint;

typedef struct {
    double accel, brake, steer; /* m/s^2, m/s^2, rad (positive left) */
    char reasoning[WMSIM_POLICY_REASONING_MAX];
    int n_trajectory;           /* 0 .. WMSIM_POLICY_TRAJECTORY_MAX */
    wmsim_policy_waypoint trajectory[WMSIM_POLICY_TRAJECTORY_MAX];
} wmsim_policy_action;

int wmsim_policy_abi_version(void);
void *wmsim_policy_create(const char *args, char *err, size_t err_len);
int wmsim_policy_reset(void *p, const char *episode_id, char *err, size_t err_len);
int wmsim_policy_step(void *p, const wmsim_policy_observation *obs, wmsim_policy_action *act, char *err,
                      size_t err_len);
void wmsim_policy_destroy(void *p);

#endif
