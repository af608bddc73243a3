/*
 * test_config.c - the kaga-node configuration file (node/config.c).
 *
 * A file with every key read back, the defaults, the lexical rules
 * (comments, quotes, escapes, CRLF, a missing last newline), each bound of
 * each number and one past it, and every class of error asserted by its
 * exact "NAME:LINE: " prefix and a word of its message. kx_conf_load on a
 * real file, a missing file, a directory and a file over the size limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "config.h"
#include "envelope.h"

#define NAME	"t.conf"
#define OP1	"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
#define OP2	"1111111111111111111111111111111111111111111111111111111111111111"
#define PK1	"8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
#define PK2	"00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"
/* Three lines that make a file valid; a test's own line is then line 4. */
#define BASE	"data-dir /var/lib/kaga\nrole household\noperator " OP1 "\n"

/*
 * Helpers: each reports the input and the line of the caller on failure.
 */

static void
show_input(const char *text, size_t len)
{
	print_error("input (%zu bytes): %.*s\n", len,
	    len > 300 ? 300 : (int)len, text);
}

/* Parses text, which must be accepted. */
static void
ok_at(int at, kx_conf_t *c, const char *text, size_t len)
{
	char	 err[512];

	if (kx_conf_parse(c, NAME, text, len, err, sizeof(err)) != 0) {
		show_input(text, len);
		print_error("test line %d: refused: %s\n", at, err);
		fail();
	}
}
#define OK(c, text)		ok_at(__LINE__, (c), (text), strlen(text))

/*
 * Parses text, which must be refused with "t.conf:LINE: " (or "t.conf: "
 * when line is 0) and a message holding word, leaving no peers behind.
 */
static void
err_at(int at, const char *text, size_t len, int line, const char *word)
{
	kx_conf_t	 c;
	char		 err[512], prefix[64];

	memset(&c, 0xa5, sizeof(c));
	if (line > 0)
		snprintf(prefix, sizeof(prefix), NAME ":%d: ", line);
	else
		snprintf(prefix, sizeof(prefix), NAME ": ");
	if (kx_conf_parse(&c, NAME, text, len, err, sizeof(err)) != -1) {
		show_input(text, len);
		print_error("test line %d: accepted, expected %s...%s\n", at,
		    prefix, word);
		kx_conf_free(&c);
		fail();
	}
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err + strlen(prefix), word) == NULL ||
	    strchr(err, '\n') != NULL) {
		show_input(text, len);
		print_error("test line %d: got \"%s\", expected %s...%s\n",
		    at, err, prefix, word);
		fail();
	}
	assert_null(c.peers);
	assert_int_equal(c.npeers, 0);
	kx_conf_free(&c);
	kx_conf_free(&c);
}
#define ERR(text, line, word)	\
	err_at(__LINE__, (text), strlen(text), (line), (word))
#define ERRN(text, len, line, word)	\
	err_at(__LINE__, (text), (len), (line), (word))
/* One line after BASE, refused on line 4. */
#define ERR4(text, word)	ERR(BASE text, 4, word)
#define ERR5(text, word)	ERR(BASE text, 5, word)

static void
unhex32(uint8_t out[KX_PK_LEN], const char *hex)
{
	if (kx_unhex(out, KX_PK_LEN, hex) != 0)
		abort();
}

/* A distinct key per i, as hex. */
static void
nth_key(char hex[2 * KX_PK_LEN + 1], unsigned i)
{
	uint8_t	 pk[KX_PK_LEN];

	memset(pk, 0x5a, sizeof(pk));
	pk[0] = (uint8_t)i;
	pk[1] = (uint8_t)(i >> 8);
	kx_hex(hex, pk, KX_PK_LEN);
}

/* Appends printf text to a growing heap buffer. */
typedef struct {
	char	*s;
	size_t	 len, cap;
} sbuf;

static void
sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	while (b->len + (size_t)n + 1 > b->cap) {
		b->cap = b->cap == 0 ? 256 : 2 * b->cap;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A string of n copies of ch (caller frees). */
static char *
repeat(char ch, size_t n)
{
	char	*s = malloc(n + 1);

	if (s == NULL)
		abort();
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/*
 * Accepted files.
 */

static void
test_full(void **state)
{
	static const char text[] =
	    "# kaga-node.conf for the Yamada ryokan\n"
	    "\n"
	    "   \t  \n"
	    "data-dir \"/var/lib/kaga node/\\\"q\\\"\\\\x\"   # quoted\n"
	    "listen tcp://0.0.0.0:7700\n"
	    "role ryokan\n"
	    "operator " OP1 "\n"
	    "operator\t" OP2 "   # a second one\n"
	    "peer " PK1 " tcp://127.0.0.1:7701\n"
	    "peer " PK2 " \"ipc:///run/kaga/n 2.sock\"\n"
	    "max-peers 12\n"
	    "gossip-interval 250\n"
	    "peer-rate 400 900\n"
	    "author-rate 50 120\n"
	    "ban-score -250\n"
	    "ban-time 3600\n"
	    "max-message 131072\n"
	    "log-level debug";	/* no newline at the end */
	kx_conf_t	 c;
	uint8_t		 k[KX_PK_LEN];

	(void)state;
	OK(&c, text);
	assert_string_equal(c.path, NAME);
	assert_string_equal(c.data_dir, "/var/lib/kaga node/\"q\"\\x");
	assert_string_equal(c.listen, "tcp://0.0.0.0:7700");
	assert_int_equal(c.role, KX_ROLE_RYOKAN);
	assert_int_equal(c.noperators, 2);
	unhex32(k, OP1);
	assert_memory_equal(c.operators[0], k, KX_PK_LEN);
	unhex32(k, OP2);
	assert_memory_equal(c.operators[1], k, KX_PK_LEN);
	assert_int_equal(c.npeers, 2);
	assert_non_null(c.peers);
	unhex32(k, PK1);
	assert_memory_equal(c.peers[0].pk, k, KX_PK_LEN);
	assert_string_equal(c.peers[0].endpoint, "tcp://127.0.0.1:7701");
	unhex32(k, PK2);
	assert_memory_equal(c.peers[1].pk, k, KX_PK_LEN);
	assert_string_equal(c.peers[1].endpoint, "ipc:///run/kaga/n 2.sock");
	assert_int_equal(c.max_peers, 12);
	assert_int_equal(c.gossip_interval_ms, 250);
	assert_int_equal(c.peer_rate, 400);
	assert_int_equal(c.peer_burst, 900);
	assert_int_equal(c.author_rate, 50);
	assert_int_equal(c.author_burst, 120);
	assert_int_equal(c.ban_score, -250);
	assert_int_equal(c.ban_time_s, 3600);
	assert_int_equal(c.max_message, 131072);
	assert_int_equal(c.log_level, 0);
	kx_conf_free(&c);
	assert_null(c.peers);
	assert_int_equal(c.npeers, 0);
	kx_conf_free(&c);	/* idempotent */
	kx_conf_free(NULL);
}

static void
test_defaults(void **state)
{
	kx_conf_t	 c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));	/* need not be initialised */
	OK(&c, BASE);
	assert_string_equal(c.data_dir, "/var/lib/kaga");
	assert_string_equal(c.listen, "");
	assert_int_equal(c.role, KX_ROLE_HOUSEHOLD);
	assert_int_equal(c.noperators, 1);
	assert_null(c.peers);
	assert_int_equal(c.npeers, 0);
	assert_int_equal(c.max_peers, 8);
	assert_int_equal(c.gossip_interval_ms, 1000);
	assert_int_equal(c.peer_rate, 500);
	assert_int_equal(c.peer_burst, 1000);
	assert_int_equal(c.author_rate, 100);
	assert_int_equal(c.author_burst, 200);
	assert_int_equal(c.ban_score, -100);
	assert_int_equal(c.ban_time_s, 600);
	assert_int_equal(c.max_message, 65536);
	assert_int_equal(c.log_level, 1);
	kx_conf_free(&c);

	/* keys in any order */
	OK(&c, "operator " OP1 "\nrole city\ndata-dir /d\n");
	assert_int_equal(c.role, KX_ROLE_CITY);
	assert_string_equal(c.data_dir, "/d");
	kx_conf_free(&c);
}

static void
test_lexical(void **state)
{
	kx_conf_t	 c;
	char		*line, *text;
	size_t		 n;

	(void)state;
	/* CRLF line ends, tabs, a comment glued to a token, # in quotes */
	OK(&c, "data-dir\t\"/a # b\"# c\r\nrole farm#x\r\n"
	    "operator " OP1 "\r\nlog-level warn\r\n\r\n");
	assert_string_equal(c.data_dir, "/a # b");
	assert_int_equal(c.role, KX_ROLE_FARM);
	assert_int_equal(c.log_level, 2);
	kx_conf_free(&c);

	/* a tab inside quotes is kept; backslashes outside quotes are not
	 * escapes */
	OK(&c, BASE "listen \"ipc:///tmp/a\tb\"\n");
	assert_string_equal(c.listen, "ipc:///tmp/a\tb");
	kx_conf_free(&c);
	OK(&c, "data-dir /a\\b\\c\nrole issuer\noperator " OP1);
	assert_string_equal(c.data_dir, "/a\\b\\c");
	assert_int_equal(c.role, KX_ROLE_ISSUER);
	kx_conf_free(&c);
	ERR("data-dir /a\\b\\\"\n", 1, "quote");

	/* every role name */
	OK(&c, "data-dir /d\noperator " OP1 "\nrole business");
	assert_int_equal(c.role, KX_ROLE_BUSINESS);
	kx_conf_free(&c);
	OK(&c, "data-dir /d\noperator " OP1 "\nrole operator");
	assert_int_equal(c.role, KX_ROLE_OPERATOR);
	kx_conf_free(&c);
	OK(&c, "data-dir /d\noperator " OP1 "\nrole merchant");
	assert_int_equal(c.role, KX_ROLE_MERCHANT);
	kx_conf_free(&c);

	/* a line of exactly KX_CONF_LINE_MAX bytes is accepted */
	n = KX_CONF_LINE_MAX - strlen("data-dir /");
	line = repeat('a', n);
	text = NULL;
	if (asprintf(&text, "data-dir /%s\nrole farm\noperator " OP1 "\n",
	    line) == -1)
		abort();
	OK(&c, text);
	assert_int_equal(strlen(c.data_dir), KX_CONF_LINE_MAX - 9);
	kx_conf_free(&c);
	free(text);
	free(line);
}

static void
test_bounds(void **state)
{
	kx_conf_t	 c;

	(void)state;
	OK(&c, BASE "max-peers 1\ngossip-interval 50\npeer-rate 1 1\n"
	    "author-rate 1 1\nban-score -1000000\nban-time 1\n"
	    "max-message 1024\n");
	assert_int_equal(c.max_peers, 1);
	assert_int_equal(c.gossip_interval_ms, 50);
	assert_int_equal(c.peer_rate, 1);
	assert_int_equal(c.peer_burst, 1);
	assert_int_equal(c.author_rate, 1);
	assert_int_equal(c.author_burst, 1);
	assert_int_equal(c.ban_score, -1000000);
	assert_int_equal(c.ban_time_s, 1);
	assert_int_equal(c.max_message, 1024);
	kx_conf_free(&c);

	OK(&c, BASE "max-peers 64\ngossip-interval 60000\n"
	    "peer-rate 1000000 1000000\nauthor-rate 1000000 1000000\n"
	    "ban-score -1\nban-time 86400\nmax-message 1048576\n");
	assert_int_equal(c.max_peers, 64);
	assert_int_equal(c.gossip_interval_ms, 60000);
	assert_int_equal(c.peer_rate, 1000000);
	assert_int_equal(c.peer_burst, 1000000);
	assert_int_equal(c.author_rate, 1000000);
	assert_int_equal(c.author_burst, 1000000);
	assert_int_equal(c.ban_score, -1);
	assert_int_equal(c.ban_time_s, 86400);
	assert_int_equal(c.max_message, 1048576);
	kx_conf_free(&c);
}

/*
 * Refused files.
 */

static void
test_err_keyword(void **state)
{
	(void)state;
	ERR4("colour blue\n", "unknown keyword \"colour\"");
	ERR4("Data-dir /x\n", "unknown keyword");
	ERR4("\"data-dir\"x /x\n", "blank");
	ERR("# only a comment\n\nbogus\n", 3, "unknown keyword");
	ERR("bogus\x1b[31m\n", 1, "control character");

	/* missing arguments */
	ERR("data-dir\n", 1, "data-dir: missing argument");
	ERR4("listen\n", "missing");
	ERR4("role   # nothing\n", "missing");
	ERR4("operator\n", "missing");
	ERR4("peer " PK1 "\n", "peer: missing");
	ERR4("peer\n", "missing");
	ERR4("max-peers\n", "missing");
	ERR4("gossip-interval\n", "missing");
	ERR4("peer-rate 500\n", "peer-rate: missing");
	ERR4("author-rate 100\n", "missing");
	ERR4("ban-score\n", "missing");
	ERR4("ban-time\n", "missing");
	ERR4("max-message\n", "missing");
	ERR4("log-level\n", "missing");

	/* extra arguments */
	ERR("data-dir /a /b\n", 1, "data-dir: extra argument \"/b\"");
	ERR4("listen tcp://a:1 tcp://b:2\n", "extra");
	ERR4("role farm city\n", "extra");
	ERR4("operator " OP2 " " OP2 "\n", "extra");
	ERR4("peer " PK1 " tcp://a:1 x\n", "extra");
	ERR4("max-peers 8 9\n", "extra");
	ERR4("gossip-interval 1000 ms\n", "extra argument \"ms\"");
	ERR4("peer-rate 1 2 3\n", "extra");
	ERR4("author-rate 1 2 3 4 5 6 7 8 9\n", "extra");
	ERR4("ban-score -5 \"\"\n", "extra");
	ERR4("ban-time 6 s\n", "extra");
	ERR4("max-message 1024 1024\n", "extra");
	ERR4("log-level info debug\n", "extra");
}

static void
test_err_number(void **state)
{
	(void)state;
	/* not decimal */
	ERR4("max-peers 8x\n", "max-peers: \"8x\" is not a decimal");
	ERR4("max-peers x\n", "not a decimal");
	ERR4("max-peers \"\"\n", "not a decimal");
	ERR4("max-peers +8\n", "not a decimal");
	ERR4("max-peers 08\n", "not a decimal");
	ERR4("max-peers 0x10\n", "not a decimal");
	ERR4("max-peers 1e1\n", "not a decimal");
	ERR4("max-peers 8.0\n", "not a decimal");
	ERR4("max-peers \" 8\"\n", "not a decimal");
	ERR4("max-peers -\n", "not a decimal");
	ERR4("max-peers --8\n", "not a decimal");
	ERR4("ban-score -0100\n", "not a decimal");
	ERR4("ban-time 1,000\n", "not a decimal");

	/* out of range, each bound */
	ERR4("max-peers 0\n", "max-peers: 0 is out of range 1..64");
	ERR4("max-peers 65\n", "out of range");
	ERR4("max-peers -8\n", "out of range");
	ERR4("max-peers 99999999999999999999999999999999\n", "out of range");
	ERR4("max-peers 18446744073709551617\n", "out of range");
	ERR4("max-peers 4294967304\n", "out of range");	/* 2^32 + 8 */
	ERR4("gossip-interval 49\n", "out of range 50..60000");
	ERR4("gossip-interval 60001\n", "out of range");
	ERR4("peer-rate 0 1000\n", "peer-rate: 0 is out of range");
	ERR4("peer-rate 500 0\n", "out of range");
	ERR4("peer-rate 1000001 1\n", "out of range");
	ERR4("peer-rate 1 1000001\n", "out of range");
	ERR4("author-rate 0 200\n", "author-rate: 0 is out of range");
	ERR4("author-rate 100 1000001\n", "out of range");
	ERR4("ban-score 0\n", "ban-score: 0 is out of range -1000000..-1");
	ERR4("ban-score -0\n", "out of range");
	ERR4("ban-score 100\n", "out of range");
	ERR4("ban-score -1000001\n", "out of range");
	ERR4("ban-score -9223372036854775809\n", "out of range");
	ERR4("ban-time 0\n", "ban-time: 0 is out of range 1..86400");
	ERR4("ban-time 86401\n", "out of range");
	ERR4("max-message 1023\n", "max-message: 1023 is out of range");
	ERR4("max-message 1048577\n", "out of range 1024..1048576");
}

static void
test_err_key(void **state)
{
	sbuf		 b = { NULL, 0, 0 };
	char		 hex[2 * KX_PK_LEN + 1];
	uint8_t		 k[KX_PK_LEN];
	unsigned	 i;
	kx_conf_t	 c;

	(void)state;
	/* 64 lowercase hex digits, no more, no less */
	ERR4("operator 8A88E3DD7409F195FD52DB2D3CBA5D72CA6709BF1D94121BF374"
	    "8801B40F6F5C\n", "operator: \"8A88E3DD");
	ERR4("operator 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf374"
	    "8801b40f6f5\n", "64 lowercase hex");
	ERR4("operator " OP1 "0\n", "64 lowercase hex");
	ERR4("operator 8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf374"
	    "8801b40f6f5g\n", "not a key");
	ERR4("operator 0x8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3"
	    "748801b40f6f5c\n", "not a key");
	ERR4("operator \"\"\n", "not a key");
	ERR4("peer 8139 tcp://127.0.0.1:7701\n", "peer: \"8139\" is not a key");

	/* repeated keys */
	ERR4("operator " OP1 "\n", "operator: duplicate key");
	ERR(BASE "peer " PK1 " tcp://a:1\npeer " PK2 " tcp://b:1\n"
	    "peer " PK1 " tcp://c:1\n", 6, "peer: duplicate key");

	/* KX_CONF_OPERATORS_MAX operators, then one more */
	sb_add(&b, "data-dir /d\nrole farm\n");
	for (i = 0; i < KX_CONF_OPERATORS_MAX; i++) {
		nth_key(hex, i);
		sb_add(&b, "operator %s\n", hex);
	}
	OK(&c, b.s);
	assert_int_equal(c.noperators, KX_CONF_OPERATORS_MAX);
	nth_key(hex, KX_CONF_OPERATORS_MAX - 1);
	unhex32(k, hex);
	assert_memory_equal(c.operators[KX_CONF_OPERATORS_MAX - 1], k,
	    KX_PK_LEN);
	kx_conf_free(&c);
	nth_key(hex, 99);
	sb_add(&b, "operator %s\n", hex);
	ERR(b.s, 2 + KX_CONF_OPERATORS_MAX + 1, "more than 16 operators");
	free(b.s);
}

static void
test_err_endpoint(void **state)
{
	char	*s, *text;

	(void)state;
	ERR4("peer " PK1 " http://127.0.0.1:7701\n",
	    "peer: endpoint \"http://127.0.0.1:7701\" must be tcp://");
	ERR4("peer " PK1 " 127.0.0.1:7701\n", "must be tcp://");
	ERR4("peer " PK1 " tcp://\n", "must be tcp://");
	ERR4("peer " PK1 " ipc://\n", "must be");
	ERR4("peer " PK1 " TCP://a:1\n", "must be");
	ERR4("peer " PK1 " inproc://a\n", "must be");
	ERR4("peer " PK1 " \"\"\n", "must be");
	ERR4("listen udp://0.0.0.0:7700\n", "listen: endpoint");
	ERR4("listen \"\"\n", "must be");

	/* KX_CONF_ENDPOINT_MAX bytes fit; one more is too long */
	s = repeat('x', KX_CONF_ENDPOINT_MAX - 6);
	text = NULL;
	if (asprintf(&text, BASE "listen ipc://%s\npeer %s tcp://%s\n", s,
	    PK1, s) == -1)
		abort();
	{
		kx_conf_t	 c;

		OK(&c, text);
		assert_int_equal(strlen(c.listen), KX_CONF_ENDPOINT_MAX);
		assert_int_equal(strlen(c.peers[0].endpoint),
		    KX_CONF_ENDPOINT_MAX);
		kx_conf_free(&c);
	}
	free(text);
	if (asprintf(&text, BASE "listen ipc://%sy\n", s) == -1)
		abort();
	ERR(text, 4, "listen: endpoint too long");
	free(text);
	if (asprintf(&text, BASE "peer %s tcp://%sy\n", PK1, s) == -1)
		abort();
	ERR(text, 4, "peer: endpoint too long");
	free(text);
	free(s);
}

static void
test_err_value(void **state)
{
	(void)state;
	ERR("data-dir var/lib/kaga\n", 1, "data-dir: \"var/lib/kaga\" is not "
	    "an absolute path");
	ERR("data-dir \"\"\n", 1, "absolute");
	ERR("data-dir ./kaga\n", 1, "absolute");
	ERR("data-dir /d\nrole none\n", 2, "role: unknown role \"none\"");
	ERR("data-dir /d\nrole Household\n", 2, "unknown role");
	ERR("data-dir /d\nrole \"\"\n", 2, "unknown role");
	ERR4("log-level error\n", "log-level: unknown level \"error\"");
	ERR4("log-level INFO\n", "unknown level");
	/* a bad value is shown escaped and cut short */
	ERR4("log-level \"\\\\\xe2\x80\x8b\"\n", "\"\\x5c\\xe2\\x80\\x8b\"");
	ERR4("log-level aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
}

static void
test_err_duplicate(void **state)
{
	(void)state;
	ERR(BASE "data-dir /other\n", 4,
	    "data-dir: duplicate (first given on line 1)");
	ERR(BASE "role farm\n", 4, "role: duplicate (first given on line 2)");
	ERR(BASE "listen tcp://a:1\n\n# x\nlisten tcp://a:1\n", 7,
	    "listen: duplicate (first given on line 4)");
	ERR5("max-peers 8\nmax-peers 9\n",
	    "max-peers: duplicate (first given on line 4)");
	ERR5("gossip-interval 100\ngossip-interval 200\n", "duplicate");
	ERR5("peer-rate 1 1\npeer-rate 2 2\n", "duplicate");
	ERR5("author-rate 1 1\nauthor-rate 2 2\n", "duplicate");
	ERR5("ban-score -1\nban-score -2\n", "duplicate");
	ERR5("ban-time 1\nban-time 2\n", "duplicate");
	ERR5("max-message 2000\nmax-message 2000\n", "duplicate");
	ERR5("log-level info\nlog-level warn\n", "duplicate");
	/* ...even when it repeats the default value */
	ERR5("ban-time 600\nban-time 600\n", "duplicate");
}

static void
test_err_lexical(void **state)
{
	static const char	 nul[] = BASE "max-peers 8\0 # x\n";
	static const char	 nul2[] = "data-dir /a\0b\nrole farm\n";
	char			*s, *text;

	(void)state;
	ERRN(nul, sizeof(nul) - 1, 4, "NUL byte");
	ERRN(nul2, sizeof(nul2) - 1, 1, "NUL");
	ERRN("\0", 1, 1, "NUL");
	ERRN("# comment \0\n", 12, 1, "NUL");

	ERR("data-dir \"/var/lib/kaga\n", 1, "unterminated quote");
	ERR4("listen \"tcp://a:1\\\"\n", "unterminated quote");
	ERR4("listen \"tcp://a:1\\", "unterminated quote");
	ERR4("listen \"", "unterminated");
	ERR4("listen \"tcp://a:1\\n\"\n", "unknown escape \"\\n\"");
	ERR4("listen \"tcp://a:1\\\x01\"\n", "unknown escape \"\\\\x01\"");
	ERR4("listen \"tcp://a:1\"x\n", "a blank must follow a closing quote");
	ERR4("listen \"tcp://a:1\"\"\"\n", "blank must follow");
	ERR4("listen tcp://\"a b\"\n", "a quote may only start a token");
	ERR4("listen \"tcp://a\x1b:1\"\n", "control character in quotes");
	ERR4("listen \"tcp://a\r:1\"\n", "control character in quotes");
	ERR4("listen tcp://a\x7f:1\n", "control character");
	ERR4("listen tcp://a\x0b:1\n", "control character");
	ERR4("listen tcp://a\f:1\n", "control character");

	/* a line of KX_CONF_LINE_MAX + 1 bytes; a comment too */
	s = repeat('a', KX_CONF_LINE_MAX + 1 - strlen("data-dir /"));
	text = NULL;
	if (asprintf(&text, "role farm\ndata-dir /%s\n", s) == -1)
		abort();
	ERR(text, 2, "line too long (4097 bytes, at most 4096)");
	free(text);
	free(s);
	s = repeat('#', KX_CONF_LINE_MAX + 1);
	if (asprintf(&text, BASE "%s\n", s) == -1)
		abort();
	ERR(text, 4, "line too long");
	free(text);
	free(s);

	/* the first error wins; line numbers count blank and comment lines */
	ERR("\n\n# c\nmax-peers 0\nbogus\n", 4, "out of range");
}

static void
test_err_missing(void **state)
{
	(void)state;
	ERRN("", 0, 0, "missing data-dir");
	ERR("\n\n# nothing\n", 0, "missing data-dir");
	ERR("role farm\noperator " OP1 "\n", 0, "missing data-dir");
	ERR("data-dir /d\noperator " OP1 "\n", 0, "missing role");
	ERR("data-dir /d\nrole farm\n", 0, "missing operator");
	ERR("data-dir /d\nrole farm\npeer " PK1 " tcp://a:1\n", 0,
	    "missing operator");
}

/* Peers: the array grows, KX_CONF_PEERS_MAX is the limit, and a failure
 * after some peers frees them (ASan reports a leak otherwise). */
static void
test_peers(void **state)
{
	sbuf		 b = { NULL, 0, 0 };
	char		 hex[2 * KX_PK_LEN + 1];
	uint8_t		 k[KX_PK_LEN];
	unsigned	 i;
	kx_conf_t	 c;

	(void)state;
	sb_add(&b, BASE);
	for (i = 0; i < KX_CONF_PEERS_MAX; i++) {
		nth_key(hex, i);
		sb_add(&b, "peer %s tcp://10.0.%u.%u:7700\n", hex, i / 256,
		    i % 256);
	}
	OK(&c, b.s);
	assert_int_equal(c.npeers, KX_CONF_PEERS_MAX);
	nth_key(hex, 1000);
	unhex32(k, hex);
	assert_memory_equal(c.peers[1000].pk, k, KX_PK_LEN);
	assert_string_equal(c.peers[1000].endpoint, "tcp://10.0.3.232:7700");
	kx_conf_free(&c);

	nth_key(hex, 4000);
	sb_add(&b, "peer %s tcp://x:1\n", hex);
	ERR(b.s, 3 + KX_CONF_PEERS_MAX + 1, "more than 1024 peers");
	free(b.s);

	/* an error after peers were added */
	ERR(BASE "peer " PK1 " tcp://a:1\npeer " PK2 " tcp://b:1\nbogus\n", 6,
	    "unknown");
	ERR("peer " PK1 " tcp://a:1\n", 0, "missing data-dir");
}

static void
test_err_buffer(void **state)
{
	kx_conf_t	 c;
	char		 err[8];

	(void)state;
	/* short, NULL and empty error buffers */
	memset(err, 'x', sizeof(err));
	assert_int_equal(kx_conf_parse(&c, NAME, "bogus", 5, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "t.conf:");
	assert_int_equal(kx_conf_parse(&c, NAME, "bogus", 5, NULL, 0), -1);
	err[0] = 'x';
	assert_int_equal(kx_conf_parse(&c, NAME, "bogus", 5, err, 0), -1);
	assert_int_equal(err[0], 'x');
	kx_conf_free(&c);
}

static void
test_too_big(void **state)
{
	char	*big;
	size_t	 n = KX_CONF_FILE_MAX + 1;

	(void)state;
	/* blank lines only: refused for its size, not its content */
	big = repeat('\n', n);
	ERRN(big, n, 0, "larger than 1048576 bytes");
	free(big);
}

/*
 * kx_conf_load on real files.
 */

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE	*f;

	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void
test_load(void **state)
{
	char		 dir[] = "/tmp/kaga-conf-XXXXXX";
	char		 path[256], err[512], want[512];
	char		*big;
	kx_conf_t	 c;

	(void)state;
	if (mkdtemp(dir) == NULL)
		abort();

	/* a real file */
	snprintf(path, sizeof(path), "%s/kaga-node.conf", dir);
	write_file(path, BASE "peer " PK1 " tcp://a:1\nmax-peers 3\n",
	    strlen(BASE "peer " PK1 " tcp://a:1\nmax-peers 3\n"));
	assert_int_equal(kx_conf_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.path, path);
	assert_string_equal(c.data_dir, "/var/lib/kaga");
	assert_int_equal(c.max_peers, 3);
	assert_int_equal(c.npeers, 1);
	kx_conf_free(&c);

	/* an error in it names the path and line */
	write_file(path, BASE "\nmax-peers 300\n",
	    strlen(BASE "\nmax-peers 300\n"));
	assert_int_equal(kx_conf_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:5: max-peers: 300 is out of range",
	    path);
	assert_memory_equal(err, want, strlen(want));
	kx_conf_free(&c);

	/* too big, though every line is fine */
	big = repeat('#', KX_CONF_FILE_MAX + 1);
	big[KX_CONF_FILE_MAX / 2] = '\n';
	write_file(path, big, KX_CONF_FILE_MAX + 1);
	free(big);
	assert_int_equal(kx_conf_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	assert_string_equal(err, want);
	kx_conf_free(&c);
	assert_int_equal(unlink(path), 0);

	/* a missing file */
	assert_int_equal(kx_conf_load(&c, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(c.peers);
	kx_conf_free(&c);
	assert_int_equal(kx_conf_load(&c, path, NULL, 0), -1);

	/* a directory */
	assert_int_equal(kx_conf_load(&c, dir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: Is a directory", dir);
	assert_string_equal(err, want);
	kx_conf_free(&c);

	/* /dev/null: readable, empty, so the required keys are missing */
	assert_int_equal(kx_conf_load(&c, "/dev/null", err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/null: missing data-dir (required)");
	kx_conf_free(&c);

	/* /dev/zero: no size to trust; refused after 1 MiB has been read */
	assert_int_equal(kx_conf_load(&c, "/dev/zero", err, sizeof(err)), -1);
	assert_string_equal(err, "/dev/zero: larger than 1048576 bytes");
	kx_conf_free(&c);

	assert_int_equal(rmdir(dir), 0);
}

/* meter and point lines: a generic profile, TCP and RTU meters, options. */
static void
test_meters(void **state)
{
	kx_conf_t		 c, d;
	const kx_profile_t	*pr;

	(void)state;
	OK(&c, BASE
	    "# a generic inverter: input registers, word-swapped\n"
	    "point inv pv_w 4 30 i32 cdab 0\n"
	    "point inv pv_wh 4 10 u32 cdab 3\n"
	    "point inv voltage_l2_mv 3 100 u16 - 2\n"
	    "point inv power_w 3 0 float32 abcd 0\n"
	    "meter grid grid sdm630 tcp://127.0.0.1:1502\n"
	    "meter roof pv inv rtu:/dev/ttyUSB0 unit=3 baud=19200 parity=E "
	    "stop-bits=2 timeout-ms=200 gap-ms=20 period-ms=5000 retries=0 "
	    "backoff-max-ms=60000 max-power-w=9000 unit-gap-ms=50\n"
	    "meter bat battery sunspec tcp://[::1]:502 unit=0\n"
	    "settle-delay 5\n"
	    "metrics-listen 127.0.0.1:9477\n");
	assert_int_equal(c.nmeters, 3);
	assert_int_equal(c.settle_delay_s, 5);
	assert_string_equal(c.metrics_listen, "127.0.0.1:9477");
	assert_int_equal(c.nprofiles, 1);
	assert_string_equal(c.meters[0].name, "grid");
	assert_int_equal(c.meters[0].use, KX_USE_GRID);
	assert_string_equal(c.meters[0].dev.host, "127.0.0.1");
	assert_int_equal(c.meters[0].dev.port, 1502);
	assert_int_equal(c.meters[0].dev.unit, 1);		/* default */
	assert_int_equal(c.meters[0].poll.period_ms, 1000);	/* default */
	assert_string_equal(c.meters[0].poll.name, "grid");
	assert_int_equal(c.meters[0].line, 9);
	assert_int_equal(c.meters[1].use, KX_USE_PV);
	assert_string_equal(c.meters[1].dev.rtu, "/dev/ttyUSB0");
	assert_string_equal(c.meters[1].dev.host, "");
	assert_int_equal(c.meters[1].dev.unit, 3);
	assert_int_equal(c.meters[1].dev.baud, 19200);
	assert_int_equal(c.meters[1].dev.parity, 'E');
	assert_int_equal(c.meters[1].dev.stop_bits, 2);
	assert_int_equal(c.meters[1].dev.timeout_ms, 200);
	assert_int_equal(c.meters[1].dev.gap_ms, 20);
	assert_int_equal(c.meters[1].poll.period_ms, 5000);
	assert_int_equal(c.meters[1].poll.retries, 0);
	assert_int_equal(c.meters[1].poll.backoff_max_ms, 60000);
	assert_int_equal(c.meters[1].poll.slot.max_power_w, 9000);
	assert_int_equal(c.meters[1].dev.unit_gap_ms, 50);
	assert_int_equal(c.meters[2].use, KX_USE_BATTERY);
	assert_string_equal(c.meters[2].dev.host, "::1");
	assert_int_equal(c.meters[2].dev.unit, 0);

	/* the profile: sorted by (fc, addr), phases from L2 */
	pr = kx_conf_profile(&c, "inv");
	assert_non_null(pr);
	assert_ptr_equal(pr, &c.profiles[0].profile);
	assert_int_equal(pr->kind, KX_PROFILE_TABLE);
	assert_int_equal(pr->npoints, 4);
	assert_int_equal(pr->nphases, 2);
	assert_int_equal(pr->points[0].fc, 3);
	assert_int_equal(pr->points[0].addr, 0);
	assert_int_equal(pr->points[0].q, KX_Q_POWER_W);
	assert_int_equal(pr->points[1].addr, 100);
	assert_int_equal(pr->points[1].scale, 2);
	assert_int_equal(pr->points[2].fc, 4);
	assert_int_equal(pr->points[2].addr, 10);
	assert_int_equal(pr->points[2].type, KX_T_U32);
	assert_int_equal(pr->points[2].order, KX_O_CDAB);
	assert_int_equal(pr->points[2].scale, 3);
	assert_int_equal(pr->points[3].q, KX_Q_PV_W);
	assert_ptr_equal(kx_conf_profile(&c, "sdm630"),
	    kx_profile_find("sdm630"));
	assert_null(kx_conf_profile(&c, "nosuch"));

	/* a deep copy: the copy's profile points at the copy's points */
	memset(&d, 0, sizeof(d));
	assert_int_equal(kx_conf_copy(&d, &c), 0);
	kx_conf_free(&c);
	memset(&c, 0x5a, sizeof(c));	/* the original is gone */
	pr = kx_conf_profile(&d, "inv");
	assert_ptr_equal(pr->points, d.profiles[0].points);
	assert_string_equal(pr->name, "inv");
	assert_int_equal(pr->points[3].q, KX_Q_PV_W);
	kx_conf_free(&d);
}

static void
test_err_meters(void **state)
{
	char	 buf[8192];
	size_t	 o = 0;
	int	 i;

	(void)state;
	ERR4("meter m grid sdm630\n", "meter: missing argument (takes 4 to "
	    "15)");
	ERR4("meter m1 grid sdm630 tcp://a:1 unit=1 unit=1 unit=1 unit=1 "
	    "unit=1 unit=1 unit=1 unit=1 unit=1 unit=1 unit=1 unit=1\n",
	    "too many arguments");
	ERR4("meter M grid sdm630 tcp://a:1\n", "name \"M\" must be");
	ERR4("meter 1m grid sdm630 tcp://a:1\n", "must be");
	ERR4("meter abcdefghijabcdefghijabcdefghijab grid sdm630 tcp://a:1\n",
	    "must be 1 to 31");
	ERR4("meter m sun sdm630 tcp://a:1\n", "use \"sun\" must be grid");
	ERR4("meter m grid sdm630 modbus://a:1\n", "tcp://HOST:PORT or rtu:");
	ERR4("meter m grid sdm630 tcp://a\n", "is not tcp://HOST:PORT");
	ERR4("meter m grid sdm630 tcp://a:99999\n", "is not tcp://HOST:PORT");
	ERR4("meter m grid sdm630 rtu:ttyUSB0\n", "rtu:/dev/");
	ERR4("meter m grid sdm630 tcp://a:1 unit\n", "not NAME=VALUE");
	ERR4("meter m grid sdm630 tcp://a:1 =3\n", "not NAME=VALUE");
	ERR4("meter m grid sdm630 tcp://a:1 colour=3\n", "unknown option");
	ERR4("meter m grid sdm630 tcp://a:1 unit=248\n",
	    "meter: unit: 248 is out of range 0..247");
	ERR4("meter m grid sdm630 tcp://a:1 unit=-1\n", "out of range");
	ERR4("meter m grid sdm630 tcp://a:1 unit=01\n", "not a decimal");
	ERR4("meter m grid sdm630 tcp://a:1 baud=9600\n", "baud is for rtu");
	ERR4("meter m grid sdm630 tcp://a:1 parity=E\n", "parity is for rtu");
	ERR4("meter m grid sdm630 tcp://a:1 stop-bits=1\n", "for rtu");
	ERR4("meter m grid sdm630 rtu:/dev/x parity=X\n", "N, E or O");
	ERR4("meter m grid sdm630 rtu:/dev/x stop-bits=3\n", "1..2");
	ERR4("meter m grid sdm630 rtu:/dev/x baud=300\n", "out of range");
	ERR4("meter m grid sdm630 tcp://a:1 timeout-ms=9\n", "10..60000");
	ERR4("meter m grid sdm630 tcp://a:1 period-ms=99\n", "100..");
	ERR4("meter m grid sdm630 tcp://a:1 retries=11\n", "0..10");
	ERR4("meter m grid sdm630 tcp://a:1 max-power-w=0\n", "out of range");
	ERR4("meter m grid sdm630 tcp://a:1 unit-gap-ms=10001\n", "0..10000");
	ERR4("meter m grid nosuch tcp://a:1\n", "unknown profile \"nosuch\"");
	ERR4("settle-delay 86401\n", "settle-delay: 86401 is out of range");
	ERR4("metrics-listen 9477\n", "is not HOST:PORT");
	ERR4("metrics-listen :9477\n", "is not HOST:PORT");
	ERR4("metrics-listen localhost:0\n", "1..65535");
	ERR4("metrics-listen localhost:http\n", "not a decimal number");
	ERR5("settle-delay 1\nsettle-delay 2\n", "duplicate");
	ERR5("meter m grid sdm630 tcp://a:1\nmeter m pv sdm120 tcp://b:1\n",
	    "m: duplicate name (first given on line 4)");

	/* points */
	ERR4("point inv pv_w 4 30 i32 cdab\n", "point: missing argument "
	    "(takes 7)");
	ERR4("point sdm630 pv_w 4 30 i32 cdab 0\n", "built-in profile");
	ERR4("point Inv pv_w 4 30 i32 cdab 0\n", "profile name");
	ERR4("point inv sunshine 4 30 i32 cdab 0\n", "unknown quantity");
	ERR4("point inv pv_w 5 30 i32 cdab 0\n", "3..4");
	ERR4("point inv pv_w 4 65536 i32 cdab 0\n", "0..65535");
	ERR4("point inv pv_w 4 65535 i32 cdab 0\n", "runs past register");
	ERR4("point inv pv_w 4 30 i64 cdab 0\n", "unknown type \"i64\"");
	ERR4("point inv pv_w 4 30 sunssf - 0\n", "unknown type");
	ERR4("point inv pv_w 4 30 i32 - 0\n", "unknown word order \"-\"");
	ERR4("point inv pv_w 4 30 i32 abdc 0\n", "unknown word order");
	ERR4("point inv pv_w 4 30 i32 abcd 19\n", "-18..18");
	ERR5("point inv pv_w 4 30 i32 abcd 0\npoint inv pv_w 4 32 i32 abcd "
	    "0\n", "pv_w given twice in profile inv");
	/* 16 profiles, then a 17th */
	o = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	for (i = 0; i < 17; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "point p%d pv_w 4 0 u16 - 0\n", i);
	ERR(buf, 20, "more than 16 profiles");
	/* every quantity once, then one again */
	o = (size_t)snprintf(buf, sizeof(buf), "%s", BASE);
	for (i = 0; i < 18; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "point p %s 4 %d u16 - 0\n",
		    kx_quantity_name((kx_quantity_t)(i % 17 + 1)), i);
	ERR(buf, 21, "power_w given twice in profile p");
}

/* kx_conf_copy replaces what the destination held (no leak under ASan). */
static void
test_copy(void **state)
{
	kx_conf_t	 a, b;

	(void)state;
	OK(&a, BASE "peer " PK1 " tcp://a:1\npeer " PK2 " tcp://b:2\n");
	OK(&b, BASE "peer " PK2 " tcp://c:3\n");
	assert_int_equal(kx_conf_copy(&b, &a), 0);
	assert_int_equal(b.npeers, 2);
	assert_ptr_not_equal(b.peers, a.peers);
	assert_string_equal(b.peers[1].endpoint, "tcp://b:2");
	assert_int_equal(kx_conf_copy(&b, &b), 0);
	kx_conf_free(&a);
	kx_conf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_lexical),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_err_keyword),
		cmocka_unit_test(test_err_number),
		cmocka_unit_test(test_err_key),
		cmocka_unit_test(test_err_endpoint),
		cmocka_unit_test(test_err_value),
		cmocka_unit_test(test_err_duplicate),
		cmocka_unit_test(test_err_lexical),
		cmocka_unit_test(test_err_missing),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_meters),
		cmocka_unit_test(test_err_meters),
		cmocka_unit_test(test_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
