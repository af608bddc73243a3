/*
 * buf.c - growable byte buffer, see buf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
kx_buf_init(kx_buf_t *b)
{
	memset(b, 0, sizeof(*b));
}

void
kx_buf_free(kx_buf_t *b)
{
	free(b->data);
	kx_buf_init(b);
}

void
kx_buf_reset(kx_buf_t *b)
{
	b->len = 0;
	b->oom = 0;
}

static int
buf_reserve(kx_buf_t *b, size_t extra)
{
	size_t	 need, ncap;
	uint8_t	*p;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->len - 1)
		goto fail;
	need = b->len + extra + 1;	/* room for kx_buf_cstr */
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if ((p = realloc(b->data, ncap)) == NULL)
		goto fail;
	b->data = p;
	b->cap = ncap;
	return 0;
fail:
	b->oom = 1;
	return -1;
}

int
kx_buf_append(kx_buf_t *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
kx_buf_putc(kx_buf_t *b, int c)
{
	uint8_t	 ch = (uint8_t)c;

	return kx_buf_append(b, &ch, 1);
}

int
kx_buf_puts(kx_buf_t *b, const char *s)
{
	return kx_buf_append(b, s, strlen(s));
}

int
kx_buf_printf(kx_buf_t *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
kx_buf_hex(kx_buf_t *b, const uint8_t *p, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	if (n > SIZE_MAX / 2 || buf_reserve(b, 2 * n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		b->data[b->len++] = (uint8_t)digits[p[i] >> 4];
		b->data[b->len++] = (uint8_t)digits[p[i] & 0xf];
	}
	return 0;
}

int
kx_buf_cstr(kx_buf_t *b)
{
	if (buf_reserve(b, 0) == -1)
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

int
kx_buf_msgpack_write(void *data, const char *buf, size_t len)
{
	return kx_buf_append(data, buf, len);
}
