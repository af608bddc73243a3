/*
 * buf.h - a growable byte buffer.
 *
 * Used for wire bytes being built, JSON text being printed and msgpack
 * being packed (kx_buf_msgpack_write is a msgpack_packer write callback).
 * Tuned for small buffers (a message is at most 16 KiB): doubles on growth.
 * After an allocation failure the buffer is marked `oom`, later appends are
 * no-ops returning -1, so a caller may check once at the end.
 */
#ifndef KX_BUF_H
#define KX_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t	*data;	/* owned; NULL until the first append */
	size_t	 len;	/* bytes in use */
	size_t	 cap;	/* bytes allocated */
	int	 oom;	/* set once an allocation failed */
} kx_buf_t;

void	kx_buf_init(kx_buf_t *b);
/* Frees the data and resets to empty; accepts an initialised empty buffer. */
void	kx_buf_free(kx_buf_t *b);
/* Drops the contents but keeps the allocation. */
void	kx_buf_reset(kx_buf_t *b);
/* Each returns 0, or -1 when memory ran out (and sets b->oom). */
int	kx_buf_append(kx_buf_t *b, const void *p, size_t n);
int	kx_buf_putc(kx_buf_t *b, int c);
int	kx_buf_puts(kx_buf_t *b, const char *s);
int	kx_buf_printf(kx_buf_t *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends n bytes as 2n lowercase hex digits. */
int	kx_buf_hex(kx_buf_t *b, const uint8_t *p, size_t n);
/* Makes data NUL-terminated (the NUL is not counted in len). */
int	kx_buf_cstr(kx_buf_t *b);
/* msgpack_packer callback: `data` is a kx_buf_t *. */
int	kx_buf_msgpack_write(void *data, const char *buf, size_t len);

#endif
