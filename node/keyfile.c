/*
 * keyfile.c - identity key files, see keyfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyfile.h"

static int
write_new(const char *path, const char *text, mode_t mode, kx_why_t *why)
{
	size_t	 n = strlen(text), off = 0;
	ssize_t	 w;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1) {
		kx_why_set(why, "%s: %s", path, errno == EEXIST ?
		    "exists already; refusing to overwrite" : strerror(errno));
		return -1;
	}
	while (off < n) {
		if ((w = write(fd, text + off, n - off)) == -1) {
			if (errno == EINTR)
				continue;
			kx_why_set(why, "%s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		kx_why_set(why, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int
kx_key_generate(const char *dir, uint8_t pk[KX_PK_LEN], kx_why_t *why)
{
	char		 kpath[4096], ppath[4096], text[2 * KX_PK_LEN + 2];
	uint8_t		 sk[KX_SK_LEN];
	struct stat	 st;
	int		 rc = -1;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		kx_why_set(why, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(kpath, sizeof(kpath), "%s/node.key", dir) >=
	    sizeof(kpath) || (size_t)snprintf(ppath, sizeof(ppath),
	    "%s/node.pub", dir) >= sizeof(ppath)) {
		kx_why_set(why, "%s: path too long", dir);
		return -1;
	}
	if (stat(kpath, &st) == 0 || stat(ppath, &st) == 0) {
		kx_why_set(why, "%s: a key exists already; refusing to "
		    "overwrite", dir);
		return -1;
	}
	crypto_sign_keypair(pk, sk);
	kx_hex(text, sk, 32);	/* the seed */
	text[2 * KX_PK_LEN] = '\n';
	text[2 * KX_PK_LEN + 1] = '\0';
	if (write_new(kpath, text, 0600, why) == -1)
		goto done;
	kx_hex(text, pk, KX_PK_LEN);
	text[2 * KX_PK_LEN] = '\n';
	text[2 * KX_PK_LEN + 1] = '\0';
	if (write_new(ppath, text, 0644, why) == -1) {
		unlink(kpath);
		goto done;
	}
	rc = 0;
done:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(text, sizeof(text));
	return rc;
}

int
kx_key_load(const char *path, uint8_t sk[KX_SK_LEN], kx_why_t *why)
{
	struct stat	 st;
	char		 text[2 * KX_PK_LEN + 8];
	uint8_t		 seed[32], pk[KX_PK_LEN];
	ssize_t		 n;
	size_t		 len;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		kx_why_set(why, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		kx_why_set(why, "%s: %s", path, strerror(errno));
		goto done;
	}
	if ((st.st_mode & 077) != 0) {
		kx_why_set(why, "%s: secret key is readable by others "
		    "(mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto done;
	}
	n = read(fd, text, sizeof(text) - 1);
	if (n < 0) {
		kx_why_set(why, "%s: %s", path, strerror(errno));
		goto done;
	}
	len = (size_t)n;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	text[len] = '\0';
	if (kx_unhex(seed, sizeof(seed), text) == -1) {
		kx_why_set(why, "%s: not a key file (64 hex digits expected)",
		    path);
		goto done;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	rc = 0;
done:
	close(fd);
	sodium_memzero(text, sizeof(text));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}
