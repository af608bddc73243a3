/*
 * mdbval.h - an MDB_val over borrowed bytes (LMDB never writes through
 * the pointer of a key or value it is given). Header-only.
 */
#ifndef KX_MDBVAL_H
#define KX_MDBVAL_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

static inline MDB_val
kx_mdb_val(const void *p, size_t n)
{
	MDB_val	 v;

	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

#endif
