/*
 * msgjson.h - a stored message as one JSON object, the format of
 * `kaga-ctl log` (docs/kaga-ctl.md), shared by the tool and the node.
 */
#ifndef KX_MSGJSON_H
#define KX_MSGJSON_H

#include "buf.h"
#include "store.h"

/* Appends {"author":..,"seq":..,"id":..,"prev":..,"ts":..,"type":..,
 * "body":{..},"status":"valid"|"invalid"[,"reason":..]} to out.
 * Returns 0, or -1 when the record does not decode or memory ran out. */
int	kx_stored_json(kx_buf_t *out, const kx_stored_t *s);

#endif
