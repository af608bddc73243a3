/*
 * json.h - JSON text <-> MessagePack, for the command line.
 *
 * kaga-ctl takes message bodies as JSON and prints stored messages as JSON,
 * while every message on the wire and on disk is MessagePack.  These two
 * converters bridge the gap.  Both are single-pass and tuned for small
 * inputs (a message is at most 16 KiB), yet stay linear on large ones.
 *
 * kx_json_to_mp is a strict parser of outside bytes: it accepts exactly one
 * RFC 8259 value, integers only (no floating point in the protocol), valid
 * UTF-8 only, no duplicate object keys, nesting at most KX_JSON_MAX_DEPTH.
 * kx_mp_to_json is a bounds-checked reader of arbitrary bytes; it never
 * allocates based on a count read from its input.
 *
 * Both append to a kx_buf_t and may leave partial output there when they
 * fail: a caller that wants all or nothing records out->len beforehand and
 * truncates back to it on error.
 */
#ifndef KX_JSON_H
#define KX_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KX_JSON_MAX_DEPTH	32	/* containers nested in JSON input */
#define KX_MP_MAX_DEPTH		64	/* containers nested in msgpack input */
#define KX_MP_MAX_KEY_NEST	4	/* non-string map keys inside such keys */

/*
 * JSON text -> one msgpack value appended to `out`.
 *
 * json, len: the text (need not be NUL-terminated; a NUL byte is an error).
 * bin_paths: NULL-terminated list of paths (or NULL) naming the places whose
 * JSON strings are lowercase hex to be packed as msgpack `bin` rather than
 * `str`.  A path is segments separated by '/', relative to the top-level
 * value: a segment is a map key, a decimal array index (no leading zeros),
 * or '*' (any key / any index; a key spelt "*" can only be named by '*').
 * The empty path "" names the top-level value.  Examples: "node",
 * "fills/ * /0" (written without the spaces), "in/ *".  Only string values
 * are affected; another type at a bin path is packed as usual, and object
 * keys are always `str`.
 *
 * Integers pack in their smallest encoding: non-negative ones as unsigned,
 * negative ones as signed.  Strings pack as `str`, objects as maps (keys in
 * the order written), arrays as arrays, all with their smallest headers.
 *
 * Returns 0, or -1 with a one-line human message in err (when err is not
 * NULL and errlen > 0).  Byte offsets in messages count from 0, e.g.
 * "json: at byte 17: expected ',' or '}'",
 * "json: field \"node\": not lowercase hex",
 * "json: at byte 5: numbers must be integers (no floating point in the
 * protocol)".  On -1, out may hold partial output.
 */
int	kx_json_to_mp(kx_buf_t *out, const char *json, size_t len,
	    const char *const *bin_paths, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/*
 * One msgpack value -> compact JSON text appended to `out` (not
 * NUL-terminated; the caller may kx_buf_cstr).
 *
 * bin -> lowercase hex string; str -> JSON string ('"', '\\' and control
 * bytes escaped, valid UTF-8 copied raw, each byte of invalid UTF-8 printed
 * as \ufffd); ints exact (int64/uint64); nil -> null; bool; float32/64 ->
 * number ("%.17g", NaN/Inf -> null); ext -> {"ext":TYPE,"hex":"..."}.
 * Map keys that are not strings are printed as strings of their JSON form
 * (e.g. 1 -> "1", [1] -> "[1]"), except bin keys, which print as their hex
 * string.  Such keys may nest inside each other KX_MP_MAX_KEY_NEST deep
 * (each level doubles the escaping, so this bounds the output size).
 *
 * mp may be NULL when len is 0.  Returns 0, or -1 on malformed or truncated
 * msgpack (including the never-used byte 0xc1), trailing bytes after the
 * value, nesting deeper than KX_MP_MAX_DEPTH, keys nested deeper than
 * KX_MP_MAX_KEY_NEST, or out of memory.  On -1, out may hold partial output.
 */
int	kx_mp_to_json(kx_buf_t *out, const uint8_t *mp, size_t len)
	    __attribute__((warn_unused_result));

#endif
