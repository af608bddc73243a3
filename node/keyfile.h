/*
 * keyfile.h - the node's identity key on disk (PROTOCOL.md section 2).
 *
 * DIR/node.key holds the Ed25519 seed as 64 lowercase hex digits and a
 * newline, mode 0600; DIR/node.pub the public key, likewise. Secret bytes
 * are wiped from memory with sodium_memzero once used.
 */
#ifndef KX_KEYFILE_H
#define KX_KEYFILE_H

#include <stdint.h>

#include "envelope.h"

/* Creates dir (0700) if needed and writes a new pair; refuses to
 * overwrite either file. Returns 0 or -1 with a message in why. */
int	kx_key_generate(const char *dir, uint8_t pk[KX_PK_LEN], kx_why_t *why)
	    __attribute__((warn_unused_result));
/* Loads a secret key file (mode must deny group and others). 0 or -1. */
int	kx_key_load(const char *path, uint8_t sk[KX_SK_LEN], kx_why_t *why)
	    __attribute__((warn_unused_result));

#endif
