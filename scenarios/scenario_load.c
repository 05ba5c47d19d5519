/* scenario_load.c — reading .pb and .pbtxt scenarios (text through protoc:
 * scenarios/protoc.h), compiling, freeing and the enum names. */
#include "scenarios/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/fileio.h"
#include "scenarios/protoc.h"
#include "scenarios/scenario.pb-c.h"

extern const char scenario_proto_text[];
const protoc_schema scenario_schema = {"scenario.proto", scenario_proto_text, "wmsim.Scenario"};

/* Real scenarios are a few kilobytes; the cap keeps a hostile or mistaken
 * input (a video renamed .pb) from exhausting memory in the unpacker. */
#define SCENARIO_FILE_MAX ((size_t)16 << 20)

const char *gesture_name(gesture g) {
    switch (g) {
    case GESTURE_NONE: return "NONE";
    case GESTURE_STOP: return "STOP";
    case GESTURE_PROCEED: return "PROCEED";
    case GESTURE_SLOW: return "SLOW";
    case GESTURE_TURN_LEFT: return "TURN_LEFT";
    case GESTURE_TURN_RIGHT: return "TURN_RIGHT";
    }
    return "?";
}

const char *actor_kind_name(actor_kind k) {
    switch (k) {
    case ACTOR_VEHICLE: return "vehicle";
    case ACTOR_PEDESTRIAN: return "pedestrian";
    case ACTOR_GUARD: return "guard";
    case ACTOR_SIGN: return "sign";
    case ACTOR_OBSTACLE: return "obstacle";
    }
    return "?";
}

void scenario_free(scenario *sc) {
    if (!sc) return;
    free(sc->pb_bytes);
    memset(sc, 0, sizeof *sc);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int scenario_encode_text(const char *path, uint8_t **out, size_t *out_len, wm_error *err) {
    return protoc_encode_file(&scenario_schema, path, SCENARIO_FILE_MAX, out, out_len, err);
}

/* ---------------------------------------------------------------- loading */

/* The default scenario id: the file's base name without its extension, so
 * `out/<id>` and log headers stay meaningful for scenarios without an id. */
void scenario_default_id(const char *name, char *id, size_t cap) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t n = strcspn(base, ".");
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        char c = base[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        id[k++] = ok ? c : '_';
    }
    id[k] = '\0';
    if (k == 0) snprintf(id, cap, "scenario");
}

/* Takes ownership of bytes (freed on failure, kept in sc on success). */
static int load_owned(const char *name, uint8_t *bytes, size_t len, scenario *sc, wm_error *err) {
    memset(sc, 0, sizeof *sc);
    if (err) err->msg[0] = '\0';
    if (len > SCENARIO_FILE_MAX) {
        free(bytes);
        return wm_fail(err, "%s: %zu bytes, larger than the %zu-byte limit for a scenario", name, len,
                       SCENARIO_FILE_MAX);
    }
    Wmsim__Scenario *m = wmsim__scenario__unpack(NULL, len, bytes);
    if (!m) {
        free(bytes);
        return wm_fail(err, "%s: not a valid binary Scenario protobuf (truncated or corrupt)", name);
    }
    if (scenario_validate_msg(name, m, err) != 0) {
        wmsim__scenario__free_unpacked(m, NULL);
        free(bytes);
        memset(sc, 0, sizeof *sc);
        return -1;
    }
    char id[SCENARIO_ID_MAX];
    scenario_default_id(name, id, sizeof id);
    scenario_from_msg(m, id, sc);
    wmsim__scenario__free_unpacked(m, NULL);
    sc->pb_bytes = bytes;
    sc->pb_len = len;
    sc->hash = hash_fnv1a64(bytes, len);
    return 0;
}

int scenario_load_pb(const char *name, const uint8_t *pb, size_t len, scenario *sc, wm_error *err) {
    if (len > SCENARIO_FILE_MAX) {
        memset(sc, 0, sizeof *sc);
        return wm_fail(err, "%s: %zu bytes, larger than the %zu-byte limit for a scenario", name, len,
                       SCENARIO_FILE_MAX);
    }
    uint8_t *copy = MALLOC_CHECK(len);
    if (len) memcpy(copy, pb, len);
    return load_owned(name, copy, len, sc, err);
}

int scenario_load(const char *path, scenario *sc, wm_error *err) {
    memset(sc, 0, sizeof *sc);
    uint8_t *bytes;
    size_t len;
    if (ends_with(path, ".pb")) {
        if (file_read_all(path, SCENARIO_FILE_MAX, &bytes, &len, err)) return -1;
    } else {
        if (scenario_encode_text(path, &bytes, &len, err)) return -1;
    }
    return load_owned(path, bytes, len, sc, err);
}

int scenario_compile(const char *in_path, const char *out_path, wm_error *err) {
    scenario *sc = CALLOC_CHECK(1, sizeof *sc);
    int rc = scenario_load(in_path, sc, err);
    if (rc == 0) rc = file_write_atomic(out_path, sc->pb_bytes, sc->pb_len, err);
    scenario_free(sc);
    free(sc);
    return rc;
}
