/*
 * test_body.c - message bodies (protocols/body.c): PROTOCOL.md section 5
 * and the parts of validation step 7 that need no federation state.
 *
 * For every type one valid body parsed into the expected fields, and every
 * rejection kx_body_parse implements: missing required keys, wrong types,
 * each range bound and one past it, price curves, the order gate with the
 * default and with custom market parameters, the market's own rules,
 * clear/settle/pay consistency. Then who may author what
 * (kx_body_authority, every type against every role) and kx_gate_ms at its
 * edges. Bodies are written as JSON, signed with kx_msg_sign and decoded,
 * so each one also passes section 3; rejections must come with a reason
 * starting with "body:" and naming the type and the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "testutil.h"

#define TS	1700000000000LL		/* a ts well before every gate */
#define S	1800000000ULL		/* a slot: a multiple of 1800 */
#define GATE	1799999700000LL		/* (S - 300) * 1000 */

/* Public keys and ids as the hex kx_json_to_mp packs into bin(32). */
#define HEX8(c)	c c c c c c c c
#define PK_A	HEX8("aaaaaaaa")
#define PK_B	HEX8("bbbbbbbb")
#define PK_C	HEX8("cccccccc")
#define PK_D	HEX8("dddddddd")
#define ID_1	HEX8("11111111")
#define ID_2	HEX8("22222222")
#define HEX31	HEX8("1111111") "111111"	/* 31 bytes */
#define HEX33	ID_1 "11"		/* 33 bytes */

static tkey_t		 key;
static kx_body_t	*B;		/* large: on the heap */
static kx_why_t		 why;
static kx_buf_t		 wire;
static kx_params_t	 dflt;
static const char *const no_bins[] = { NULL };
/* The bin paths of "raw" bodies: by default none, all strings are str. */
static const char *const *raw_bins = no_bins;

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	tkey_new(&key);
	if ((B = malloc(sizeof(*B))) == NULL)
		return -1;
	kx_buf_init(&wire);
	kx_params_default(&dflt);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(B);
	kx_buf_free(&wire);
	return 0;
}

/* printf into one of a few rotating static buffers (for JSON bodies). */
static const char *
jf(const char *fmt, ...)
{
	static char	 bufs[4][40000];
	static int	 next;
	char		*b = bufs[next++ % 4];
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(bufs[0]))
		abort();
	return b;
}

/* n repetitions of the string s (static; one live result at a time). */
static const char *
rep(const char *s, size_t n)
{
	static char	 b[8192];
	size_t		 l = strlen(s), i;

	if (n * l + 1 > sizeof(b))
		abort();
	for (i = 0; i < n; i++)
		memcpy(b + i * l, s, l);
	b[n * l] = '\0';
	return b;
}

/*
 * Signs a `type` message with body `json` at ts (bin fields per type, or
 * raw_bins with raw), decodes it (which must succeed: every body here is
 * valid under section 3) and parses the body into B with params p.
 * Returns kx_body_parse's result; the reason is in `why`.
 */
static int
parse(const char *type, int64_t ts, const char *json, const kx_params_t *p,
    bool raw, const char *file, int line)
{
	kx_buf_t	 body;
	kx_msg_t	 m;
	char		 err[256];
	int		 r;

	kx_buf_init(&body);
	if (kx_json_to_mp(&body, json, strlen(json), raw ? raw_bins :
	    kx_body_bin_paths(type), err, sizeof(err)) != 0) {
		print_error("bad test body %.200s: %s\n", json, err);
		_fail(file, line);
	}
	kx_buf_reset(&wire);
	if (kx_msg_sign(&wire, key.sk, 1, NULL, ts, type, body.data,
	    body.len) != KX_OK)
		_fail(file, line);
	kx_buf_free(&body);
	memset(&why, 0, sizeof(why));
	if (kx_msg_decode(&m, wire.data, wire.len, &why) != KX_OK) {
		print_error("test message does not decode: %s\n", why.text);
		_fail(file, line);
	}
	memset(&why, 0, sizeof(why));
	r = kx_body_parse(B, &m, p, &why);
	/* a rejection always has a reason naming the rule and the type */
	if (r != KX_OK && (r != KX_EBODY ||
	    strncmp(why.text, "body: ", 6) != 0)) {
		print_error("rc %d, reason \"%s\"\n", r, why.text);
		_fail(file, line);
	}
	return r;
}

static void
body_ok(const char *type, int64_t ts, const char *json, const kx_params_t *p,
    bool raw, const char *file, int line)
{
	if (parse(type, ts, json, p, raw, file, line) != KX_OK) {
		print_error("%s %.300s\nrefused: %s\n", type, json, why.text);
		_fail(file, line);
	}
	if (B->type != kx_type_of(type)) {
		print_error("parsed as type %d\n", (int)B->type);
		_fail(file, line);
	}
}

/* The reason must start with `text` (which starts with "body: "). */
static void
body_err(const char *type, int64_t ts, const char *json, const kx_params_t *p,
    bool raw, const char *text, const char *file, int line)
{
	int	 r;

	r = parse(type, ts, json, p, raw, file, line);
	if (r != KX_EBODY || strncmp(why.text, text, strlen(text)) != 0) {
		print_error("%s %.300s\nrc %d, reason \"%s\"\nwant   \"%s...\"\n",
		    type, json, r, why.text, text);
		_fail(file, line);
	}
}

/* With the default market parameters, at TS. */
#define OK(type, json)		body_ok(type, TS, json, &dflt, false, \
				    __FILE__, __LINE__)
#define ERR(type, json, text)	body_err(type, TS, json, &dflt, false, text, \
				    __FILE__, __LINE__)
/* At a given ts, with given parameters. */
#define OK_TP(type, ts, p, json) \
	body_ok(type, ts, json, p, false, __FILE__, __LINE__)
#define ERR_TP(type, ts, p, json, text) \
	body_err(type, ts, json, p, false, text, __FILE__, __LINE__)
/* JSON strings packed as str even at bin fields (but raw_bins). */
#define ERR_RAW(type, json, text) \
	body_err(type, TS, json, &dflt, true, text, __FILE__, __LINE__)

/* One table row: a body and the reason it is refused (NULL: accepted). */
struct bcase {
	const char	*json;
	const char	*text;
};

static void
run_cases(const char *type, const struct bcase *c, size_t n,
    const char *file, int line)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (c[i].text == NULL)
			body_ok(type, TS, c[i].json, &dflt, false, file, line);
		else
			body_err(type, TS, c[i].json, &dflt, false, c[i].text,
			    file, line);
	}
}

#define CASES(type, c) \
	run_cases(type, c, sizeof(c) / sizeof(c[0]), __FILE__, __LINE__)

/* Parses bytes as the body of a message that never was on a wire. */
static int
parse_bytes(const char *type, const uint8_t *body, size_t len)
{
	kx_msg_t	 m;

	memset(&m, 0, sizeof(m));
	snprintf(m.type, sizeof(m.type), "%s", type);
	m.ts = TS;
	m.body = body;
	m.body_len = len;
	memset(&why, 0, sizeof(why));
	return kx_body_parse(B, &m, &dflt, &why);
}

/*
 * Types and roles
 */

static void
test_names(void **state)
{
	static const char *const names[] = { "member", "revoke", "market",
	    "order", "cancel", "clear", "reading", "settle", "issue", "pay",
	    "listing", "summary" };
	static const char *const roles[] = { "household", "ryokan", "farm",
	    "business", "operator", "issuer", "merchant", "city" };
	size_t	 i;

	(void)state;
	for (i = 0; i < 12; i++)
		assert_int_equal(kx_type_of(names[i]), KX_T_MEMBER + (int)i);
	assert_int_equal(kx_type_of(""), KX_T_UNKNOWN);
	assert_int_equal(kx_type_of("Order"), KX_T_UNKNOWN);
	assert_int_equal(kx_type_of("orders"), KX_T_UNKNOWN);
	for (i = 0; i < 8; i++) {
		assert_int_equal(kx_role_of(roles[i], strlen(roles[i])),
		    KX_ROLE_HOUSEHOLD + (int)i);
		assert_string_equal(kx_role_name(KX_ROLE_HOUSEHOLD + (int)i),
		    roles[i]);
	}
	assert_int_equal(kx_role_of("farmer", 6), KX_ROLE_NONE);
	assert_int_equal(kx_role_of("farm", 3), KX_ROLE_NONE);
	assert_int_equal(kx_role_of("none", 4), KX_ROLE_NONE);
	assert_int_equal(kx_role_of("", 0), KX_ROLE_NONE);
	assert_string_equal(kx_role_name(KX_ROLE_NONE), "none");
	assert_string_equal(kx_role_name((kx_role_t)99), "none");
	assert_string_equal(kx_role_name((kx_role_t)-1), "none");
}

static void
test_params_default(void **state)
{
	kx_params_t	 p;

	(void)state;
	memset(&p, 0xff, sizeof(p));
	kx_params_default(&p);
	assert_int_equal(p.from, 0);
	assert_int_equal(p.slot_s, 1800);
	assert_int_equal(p.gate_s, 300);
	assert_int_equal(p.floor, 800);
	assert_int_equal(p.ceiling, 3100);
	assert_int_equal(p.fee, 500);
	assert_int_equal(p.time_limit, 600);
	assert_int_equal(p.pt_value, 100000);
}

static void
test_bin_paths(void **state)
{
	const char *const	*p;

	(void)state;
	p = kx_body_bin_paths("member");
	assert_string_equal(p[0], "node");
	assert_null(p[1]);
	assert_string_equal(kx_body_bin_paths("revoke")[0], "node");
	assert_string_equal(kx_body_bin_paths("cancel")[0], "order");
	p = kx_body_bin_paths("clear");
	assert_string_equal(p[0], "set");
	assert_string_equal(p[1], "fills/*/0");
	assert_null(p[2]);
	p = kx_body_bin_paths("reading");
	assert_string_equal(p[0], "to");
	assert_string_equal(p[1], "box");
	assert_string_equal(kx_body_bin_paths("settle")[0], "lines/*/0");
	assert_string_equal(kx_body_bin_paths("issue")[0], "to");
	p = kx_body_bin_paths("pay");
	assert_string_equal(p[0], "to");
	assert_string_equal(p[1], "in/*");
	assert_null(kx_body_bin_paths("order"));
	assert_null(kx_body_bin_paths("market"));
	assert_null(kx_body_bin_paths("listing"));
	assert_null(kx_body_bin_paths("summary"));
	assert_null(kx_body_bin_paths("weather"));
}

/*
 * Bodies, type by type
 */

static void
test_not_a_map(void **state)
{
	(void)state;
	assert_int_equal(parse_bytes("pay", (const uint8_t *)"\x91\x01", 2),
	    KX_EBODY);
	assert_string_equal(why.text, "body: not a map");
	assert_int_equal(parse_bytes("weather", (const uint8_t *)"", 0),
	    KX_EBODY);
	assert_string_equal(why.text, "body: not a map");
}

static void
test_member(void **state)
{
	static const char *const roles[] = { "household", "ryokan", "farm",
	    "business", "operator", "issuer", "merchant", "city" };
	static const struct bcase cases[] = {
		{ "{\"role\":\"farm\",\"until\":0}", "body: member: missing "
		    "node" },
		{ "{\"node\":\"" PK_A "\",\"until\":0}", "body: member: "
		    "missing role" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\"}", "body: member: "
		    "missing until" },
		{ "{\"node\":\"" HEX31 "\",\"role\":\"farm\",\"until\":0}",
		    "body: member: node must be bin(32)" },
		{ "{\"node\":\"" HEX33 "\",\"role\":\"farm\",\"until\":0}",
		    "body: member: node must be bin(32)" },
		{ "{\"node\":7,\"role\":\"farm\",\"until\":0}",
		    "body: member: node must be bin(32)" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"admin\",\"until\":0}",
		    "body: member: role is not a known role" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"\",\"until\":0}",
		    "body: member: role is not a known role" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"Farm\",\"until\":0}",
		    "body: member: role is not a known role" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"householdhousehol\","
		    "\"until\":0}", "body: member: role is longer than 16 "
		    "bytes" },
		{ "{\"node\":\"" PK_A "\",\"role\":3,\"until\":0}",
		    "body: member: role must be a string" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":-1}",
		    "body: member: until must not be negative" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":"
		    "-9223372036854775808}", "body: member: until must not be "
		    "negative" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":"
		    "9223372036854775808}", "body: member: until must be an "
		    "int64" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":\"0\"}",
		    "body: member: until must be an int64" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":0,"
		    "\"name\":7}", "body: member: name must be a string" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":0,"
		    "\"area\":[]}", "body: member: area must be a string" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"farm\",\"until\":0,"
		    "\"endpoint\":null}", "body: member: endpoint must be a "
		    "string" },
		/* an issuer must carry its cap */
		{ "{\"node\":\"" PK_A "\",\"role\":\"issuer\",\"until\":0}",
		    "body: member: missing cap" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"issuer\",\"until\":0,"
		    "\"cap\":-1}", "body: member: cap must be an unsigned "
		    "integer" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"issuer\",\"until\":0,"
		    "\"cap\":\"5\"}", "body: member: cap must be an unsigned "
		    "integer" },
		{ "{\"node\":\"" PK_A "\",\"role\":\"issuer\",\"until\":0,"
		    "\"cap\":0}", NULL },
		{ "{\"node\":\"" PK_A "\",\"role\":\"issuer\",\"until\":0,"
		    "\"cap\":18446744073709551615}", NULL },
		/* others may leave it out; the optional text may be absent */
		{ "{\"node\":\"" PK_A "\",\"role\":\"city\",\"until\":1}",
		    NULL },
	};
	size_t	 i;

	(void)state;
	OK("member", "{\"node\":\"" PK_A "\",\"role\":\"household\","
	    "\"name\":\"Tanaka\",\"area\":\"Yamashiro\",\"endpoint\":"
	    "\"tcp://192.0.2.7:7000\",\"until\":0,\"later\":[1]}");
	assert_int_equal(B->type, KX_T_MEMBER);
	assert_memory_equal(B->u.member.node, HEX8("\xaa\xaa\xaa\xaa"), 32);
	assert_int_equal(B->u.member.role, KX_ROLE_HOUSEHOLD);
	assert_true(B->u.member.until == 0);
	assert_int_equal(B->u.member.cap, 0);

	OK("member", "{\"node\":\"" PK_B "\",\"role\":\"issuer\",\"until\":"
	    "1900000000000,\"cap\":250000}");
	assert_memory_equal(B->u.member.node, HEX8("\xbb\xbb\xbb\xbb"), 32);
	assert_int_equal(B->u.member.role, KX_ROLE_ISSUER);
	assert_true(B->u.member.until == 1900000000000LL);
	assert_int_equal(B->u.member.cap, 250000);
	OK("member", "{\"node\":\"" PK_B "\",\"role\":\"farm\",\"until\":"
	    "9223372036854775807}");
	assert_true(B->u.member.until == INT64_MAX);

	for (i = 0; i < 8; i++) {
		OK("member", jf("{\"node\":\"" PK_A "\",\"role\":\"%s\","
		    "\"until\":0,\"cap\":1}", roles[i]));
		assert_int_equal(B->u.member.role, KX_ROLE_HOUSEHOLD +
		    (int)i);
	}

	/* text sizes: at the limit and one past it */
	OK("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"name\":\"%s\"}", rep("n", 64)));
	ERR("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"name\":\"%s\"}", rep("n", 65)),
	    "body: member: name is longer than 64 bytes");
	/* bytes, not characters: 21 x 3 + 1 = 64, 65 */
	OK("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"name\":\"%sx\"}", rep("\xe3\x81\x82", 21)));
	ERR("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"name\":\"%sxy\"}", rep("\xe3\x81\x82", 21)),
	    "body: member: name is longer than 64 bytes");
	OK("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"area\":\"%s\"}", rep("a", 32)));
	ERR("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"area\":\"%s\"}", rep("a", 33)),
	    "body: member: area is longer than 32 bytes");
	OK("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"endpoint\":\"%s\"}", rep("e", 128)));
	ERR("member", jf("{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0,\"endpoint\":\"%s\"}", rep("e", 129)),
	    "body: member: endpoint is longer than 128 bytes");

	CASES("member", cases);
	/* a node given as a str, not a bin */
	ERR_RAW("member", "{\"node\":\"" PK_A "\",\"role\":\"farm\","
	    "\"until\":0}", "body: member: node must be bin(32)");
}

static void
test_revoke(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"reason\":\"x\"}", "body: revoke: missing node" },
		{ "{\"node\":\"" HEX31 "\"}", "body: revoke: node must be "
		    "bin(32)" },
		{ "{\"node\":\"" PK_A "\",\"reason\":5}", "body: revoke: "
		    "reason must be a string" },
		{ "{\"node\":\"" PK_A "\"}", NULL },
	};

	(void)state;
	OK("revoke", "{\"node\":\"" PK_C "\",\"reason\":\"left the town\"}");
	assert_int_equal(B->type, KX_T_REVOKE);
	assert_memory_equal(B->u.revoke.node, HEX8("\xcc\xcc\xcc\xcc"), 32);
	OK("revoke", jf("{\"node\":\"" PK_C "\",\"reason\":\"%s\"}",
	    rep("r", 256)));
	ERR("revoke", jf("{\"node\":\"" PK_C "\",\"reason\":\"%s\"}",
	    rep("r", 257)), "body: revoke: reason is longer than 256 bytes");
	CASES("revoke", cases);
}

/* A market body with the defaults, `name` set to `val` (NULL: left out). */
static const char *
market(const char *name, const char *val)
{
	static const char *const keys[] = { "from", "slot_s", "gate_s",
	    "floor", "ceiling", "fee", "time_limit", "pt_value" };
	static const char *const vals[] = { "0", "1800", "300", "800",
	    "3100", "500", "600", "100000" };
	static char	 b[512];
	size_t		 i, l = 0;

	l += (size_t)snprintf(b + l, sizeof(b) - l, "{");
	for (i = 0; i < 8; i++) {
		if (strcmp(keys[i], name) == 0 && val == NULL)
			continue;	/* left out */
		l += (size_t)snprintf(b + l, sizeof(b) - l, "%s\"%s\":%s",
		    l > 1 ? "," : "", keys[i],
		    strcmp(keys[i], name) == 0 ? val : vals[i]);
	}
	snprintf(b + l, sizeof(b) - l, "}");
	return b;
}

static void
test_market(void **state)
{
	static const char *const keys[] = { "from", "slot_s", "gate_s",
	    "floor", "ceiling", "fee", "time_limit", "pt_value" };
	kx_params_t	*p = &B->u.market;
	size_t		 i;

	(void)state;
	OK("market", "{\"from\":1800003600,\"slot_s\":3600,\"gate_s\":600,"
	    "\"floor\":700,\"ceiling\":3500,\"fee\":450,\"time_limit\":1200,"
	    "\"pt_value\":-5}");
	assert_int_equal(B->type, KX_T_MARKET);
	assert_int_equal(p->from, 1800003600);
	assert_int_equal(p->slot_s, 3600);
	assert_int_equal(p->gate_s, 600);
	assert_int_equal(p->floor, 700);
	assert_int_equal(p->ceiling, 3500);
	assert_int_equal(p->fee, 450);
	assert_int_equal(p->time_limit, 1200);
	assert_true(p->pt_value == -5);
	OK("market", market("", NULL));
	assert_memory_equal(p, &dflt, sizeof(dflt));

	/* every key is required */
	for (i = 0; i < 8; i++)
		ERR("market", market(keys[i], NULL), jf("body: market: "
		    "missing %s", keys[i]));
	/* wrong types */
	for (i = 0; i < 7; i++)
		ERR("market", market(keys[i], "\"1\""), jf("body: market: "
		    "%s must be an unsigned integer", keys[i]));
	ERR("market", market("floor", "-1"), "body: market: floor must be "
	    "an unsigned integer");
	ERR("market", market("pt_value", "\"1\""), "body: market: pt_value "
	    "must be an int64");
	ERR("market", market("pt_value", "9223372036854775808"),
	    "body: market: pt_value must be an int64");
	OK("market", market("pt_value", "-9223372036854775808"));
	assert_true(p->pt_value == INT64_MIN);

	/* prices in range */
	OK("market", market("ceiling", "1000000"));
	assert_int_equal(p->ceiling, 1000000);
	ERR("market", market("ceiling", "1000001"), "body: market: ceiling "
	    "is over 1000000");
	ERR("market", market("floor", "1000001"), "body: market: floor is "
	    "over 1000000");
	ERR("market", market("fee", "1000001"), "body: market: fee is over "
	    "1000000");
	OK("market", market("time_limit", "4294967295"));
	assert_true(p->time_limit == UINT32_MAX);
	ERR("market", market("time_limit", "4294967296"), "body: market: "
	    "time_limit is over 4294967295");

	/* floor <= ceiling */
	OK("market", market("floor", "3100"));
	assert_int_equal(p->floor, 3100);
	ERR("market", market("floor", "3101"), "body: market: prices: floor "
	    "must not exceed ceiling");
	OK("market", market("floor", "0"));
	/* fee < ceiling */
	OK("market", market("fee", "3099"));
	ERR("market", market("fee", "3100"), "body: market: prices: fee "
	    "must be below ceiling");
	ERR("market", market("fee", "3101"), "body: market: prices: fee "
	    "must be below ceiling");
	/* gate_s < slot_s */
	OK("market", market("gate_s", "1799"));
	OK("market", market("gate_s", "0"));
	ERR("market", market("gate_s", "1800"), "body: market: gate_s must "
	    "be below slot_s");
	ERR("market", market("gate_s", "1801"), "body: market: gate_s must "
	    "be below slot_s");
	/* a zero slot length is refused, not divided by */
	ERR("market", market("slot_s", "0"), "body: market: gate_s must be "
	    "below slot_s");
	/* from is a slot */
	OK("market", market("from", "1800"));
	OK("market", market("from", "1800000000"));
	ERR("market", market("from", "900"), "body: market: from is not a "
	    "multiple of slot_s");
	ERR("market", market("from", "1800000001"), "body: market: from is "
	    "not a multiple of slot_s");
}

/* An order body for slot `slot` with `steps` (JSON array text). */
static const char *
order(uint64_t slot, const char *side, const char *steps)
{
	return jf("{\"slot\":%llu,\"side\":\"%s\",\"steps\":%s}",
	    (unsigned long long)slot, side, steps);
}

/* n steps [[wh, price]] with prices rising (sell) or falling (buy). */
static const char *
steps(int n, bool rising)
{
	static char	 b[1024];
	size_t		 l = 0;
	int		 i;

	l += (size_t)snprintf(b + l, sizeof(b) - l, "[");
	for (i = 0; i < n; i++)
		l += (size_t)snprintf(b + l, sizeof(b) - l, "%s[%d,%d]",
		    i ? "," : "", 100 + i, rising ? 1000 + i : 3000 - i);
	snprintf(b + l, sizeof(b) - l, "]");
	return b;
}

static void
test_order(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"side\":\"buy\",\"steps\":[[1,1]]}",
		    "body: order: missing slot" },
		{ "{\"slot\":1800000000,\"steps\":[[1,1]]}",
		    "body: order: missing side" },
		{ "{\"slot\":1800000000,\"side\":\"buy\"}",
		    "body: order: missing steps" },
		{ "{\"slot\":\"1800000000\",\"side\":\"buy\",\"steps\":"
		    "[[1,1]]}", "body: order: slot must be an unsigned "
		    "integer" },
		{ "{\"slot\":-1800,\"side\":\"buy\",\"steps\":[[1,1]]}",
		    "body: order: slot must be an unsigned integer" },
		{ "{\"slot\":1800000001,\"side\":\"buy\",\"steps\":[[1,1]]}",
		    "body: order: slot is not a multiple of the slot length" },
		{ "{\"slot\":1800000900,\"side\":\"buy\",\"steps\":[[1,1]]}",
		    "body: order: slot is not a multiple of the slot length" },
		{ "{\"slot\":1800000000,\"side\":\"hold\",\"steps\":[[1,1]]}",
		    "body: order: side has a value that is not allowed" },
		{ "{\"slot\":1800000000,\"side\":\"BUY\",\"steps\":[[1,1]]}",
		    "body: order: side has a value that is not allowed" },
		{ "{\"slot\":1800000000,\"side\":1,\"steps\":[[1,1]]}",
		    "body: order: side must be a string" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":{}}",
		    "body: order: steps must be an array" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[]}",
		    "body: order: steps must hold 1 to 16 entries" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[5]}",
		    "body: order: steps[0] must be [wh, price]" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[[5]]}",
		    "body: order: steps[0] must be [wh, price]" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[5,5],[1,2,3]]}", "body: order: steps[1] must be "
		    "[wh, price]" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[\"5\",5]]}", "body: order: steps[0]: wh must be 1 to "
		    "10000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[[-5,5]]}",
		    "body: order: steps[0]: wh must be 1 to 10000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[5,null]]}", "body: order: steps[0]: price must be 0 to "
		    "1000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[[5,-1]]}",
		    "body: order: steps[0]: price must be 0 to 1000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[5,[1]]]}", "body: order: steps[0]: price must be 0 to "
		    "1000000" },
		/* wh bounds */
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[[1,5]]}",
		    NULL },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[10000000,5]]}", NULL },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":[[0,5]]}",
		    "body: order: steps[0]: wh must be 1 to 10000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[10000001,5]]}", "body: order: steps[0]: wh must be 1 to "
		    "10000000" },
		/* price bounds */
		{ "{\"slot\":1800000000,\"side\":\"sell\",\"steps\":"
		    "[[1,0],[1,1000000]]}", NULL },
		{ "{\"slot\":1800000000,\"side\":\"sell\",\"steps\":"
		    "[[1,0],[1,1000001]]}", "body: order: steps[1]: price must "
		    "be 0 to 1000000" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[1,1000001]]}", "body: order: steps[0]: price must be 0 "
		    "to 1000000" },
		/* curves: sell strictly rises, buy strictly falls */
		{ "{\"slot\":1800000000,\"side\":\"sell\",\"steps\":"
		    "[[1,10],[1,11],[1,11]]}", "body: order: steps[2]: a sell "
		    "curve's prices must strictly rise" },
		{ "{\"slot\":1800000000,\"side\":\"sell\",\"steps\":"
		    "[[1,10],[1,9]]}", "body: order: steps[1]: a sell curve's "
		    "prices must strictly rise" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[1,10],[1,10]]}", "body: order: steps[1]: a buy curve's "
		    "prices must strictly fall" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[1,10],[1,9],[1,11]]}", "body: order: steps[2]: a buy "
		    "curve's prices must strictly fall" },
		{ "{\"slot\":1800000000,\"side\":\"buy\",\"steps\":"
		    "[[1,1000000],[1,0]]}", NULL },
	};

	(void)state;
	OK("order", order(S, "sell", "[[100,1000],[250,2000],[5,2001]]"));
	assert_int_equal(B->type, KX_T_ORDER);
	assert_true(B->u.order.slot == S);
	assert_int_equal(B->u.order.side, KX_SELL);
	assert_int_equal(B->u.order.n, 3);
	assert_int_equal(B->u.order.wh[0], 100);
	assert_int_equal(B->u.order.price[0], 1000);
	assert_int_equal(B->u.order.wh[1], 250);
	assert_int_equal(B->u.order.price[1], 2000);
	assert_int_equal(B->u.order.wh[2], 5);
	assert_int_equal(B->u.order.price[2], 2001);
	OK("order", order(S, "buy", "[[300,3000],[50,2500]]"));
	assert_int_equal(B->u.order.side, KX_BUY);
	assert_int_equal(B->u.order.n, 2);
	assert_int_equal(B->u.order.wh[1], 50);
	assert_int_equal(B->u.order.price[1], 2500);

	/* 1 to 16 steps */
	OK("order", order(S, "sell", steps(1, true)));
	OK("order", order(S, "sell", steps(16, true)));
	assert_int_equal(B->u.order.n, 16);
	assert_int_equal(B->u.order.wh[15], 115);
	assert_int_equal(B->u.order.price[15], 1015);
	OK("order", order(S, "buy", steps(16, false)));
	assert_int_equal(B->u.order.price[15], 2985);
	ERR("order", order(S, "sell", steps(17, true)), "body: order: steps "
	    "must hold 1 to 16 entries");
	ERR("order", order(S, "buy", steps(17, false)), "body: order: steps "
	    "must hold 1 to 16 entries");
	/* a sell curve is not a buy curve */
	ERR("order", order(S, "buy", steps(2, true)), "body: order: "
	    "steps[1]: a buy curve's prices must strictly fall");
	ERR("order", order(S, "sell", steps(2, false)), "body: order: "
	    "steps[1]: a sell curve's prices must strictly rise");
	CASES("order", cases);
}

static void
test_order_gate(void **state)
{
	kx_params_t	 p;
	const char	*one = "[[100,1000]]";

	(void)state;
	/* default parameters: gate at (S - 300) s */
	assert_true(kx_gate_ms(S, 300) == GATE);
	OK_TP("order", GATE - 1, &dflt, order(S, "sell", one));
	ERR_TP("order", GATE, &dflt, order(S, "sell", one), "body: order: ts "
	    "is at or after the gate closure of its slot");
	ERR_TP("order", GATE + 1, &dflt, order(S, "buy", one), "body: order: "
	    "ts is at or after the gate closure of its slot");
	ERR_TP("order", (int64_t)S * 1000, &dflt, order(S, "buy", one),
	    "body: order: ts is at or after the gate closure");
	OK_TP("order", -1, &dflt, order(S, "buy", one));

	/* custom parameters: 900 s slots, gate 60 s */
	kx_params_default(&p);
	p.slot_s = 900;
	p.gate_s = 60;
	OK_TP("order", (int64_t)(S + 900 - 60) * 1000 - 1, &p,
	    order(S + 900, "sell", one));
	assert_true(B->u.order.slot == S + 900);
	ERR_TP("order", (int64_t)(S + 900 - 60) * 1000, &p,
	    order(S + 900, "sell", one), "body: order: ts is at or after "
	    "the gate closure of its slot");
	/* ... which the default 1800 s slots refuse */
	ERR_TP("order", TS, &dflt, order(S + 900, "sell", one), "body: order: "
	    "slot is not a multiple of the slot length");
	ERR_TP("order", TS, &p, order(S + 450, "sell", one), "body: order: "
	    "slot is not a multiple of the slot length");
	/* a gate of 0 s closes at the slot's start */
	p.gate_s = 0;
	OK_TP("order", (int64_t)S * 1000 - 1, &p, order(S, "buy", one));
	ERR_TP("order", (int64_t)S * 1000, &p, order(S, "buy", one),
	    "body: order: ts is at or after the gate closure");
	/* slot length 0 in the parameters: nothing is a multiple */
	p.slot_s = 0;
	ERR_TP("order", TS, &p, order(S, "buy", one), "body: order: slot is "
	    "not a multiple of the slot length");

	/* a slot before gate_s: the gate is before the epoch */
	OK_TP("order", -300001, &dflt, order(0, "buy", one));
	ERR_TP("order", -300000, &dflt, order(0, "buy", one), "body: order: "
	    "ts is at or after the gate closure");
	ERR_TP("order", TS, &dflt, order(0, "buy", one), "body: order: ts is "
	    "at or after the gate closure");
	/* a slot so late that its gate saturates */
	OK_TP("order", INT64_MAX - 1, &dflt,
	    order(18000000000000000000ULL, "buy", one));
	ERR_TP("order", INT64_MAX, &dflt, order(18000000000000000000ULL,
	    "buy", one), "body: order: ts is at or after the gate closure");
}

static void
test_gate_ms(void **state)
{
	(void)state;
	assert_true(kx_gate_ms(S, 300) == GATE);
	assert_true(kx_gate_ms(0, 0) == 0);
	assert_true(kx_gate_ms(1800, 300) == 1500000);
	assert_true(kx_gate_ms(300, 300) == 0);
	/* slot < gate_s: negative */
	assert_true(kx_gate_ms(299, 300) == -1000);
	assert_true(kx_gate_ms(0, 300) == -300000);
	assert_true(kx_gate_ms(100, 1000) == -900000);
	/* saturation at both ends */
	assert_true(kx_gate_ms(UINT64_MAX, 0) == INT64_MAX);
	assert_true(kx_gate_ms(UINT64_MAX, 300) == INT64_MAX);
	assert_true(kx_gate_ms((uint64_t)INT64_MAX, 0) == INT64_MAX);
	assert_true(kx_gate_ms(0, UINT64_MAX) == INT64_MIN);
	assert_true(kx_gate_ms(0, (uint64_t)INT64_MAX) == INT64_MIN);
	/* just inside and just past the largest representable gate */
	assert_true(kx_gate_ms(9223372036854775ULL, 0) ==
	    9223372036854775000LL);
	assert_true(kx_gate_ms(9223372036854776ULL, 0) == INT64_MAX);
	assert_true(kx_gate_ms(0, 9223372036854775ULL) ==
	    -9223372036854775000LL);
	assert_true(kx_gate_ms(0, 9223372036854776ULL) == INT64_MIN);
}

static void
test_cancel(void **state)
{
	static const struct bcase cases[] = {
		{ "{}", "body: cancel: missing order" },
		{ "{\"order\":\"" HEX31 "\"}", "body: cancel: order must be "
		    "bin(32)" },
		{ "{\"order\":\"" HEX33 "\"}", "body: cancel: order must be "
		    "bin(32)" },
		{ "{\"order\":[]}", "body: cancel: order must be bin(32)" },
	};

	(void)state;
	OK("cancel", "{\"order\":\"" ID_2 "\"}");
	assert_int_equal(B->type, KX_T_CANCEL);
	assert_memory_equal(B->u.cancel.order, HEX8("\x22\x22\x22\x22"), 32);
	CASES("cancel", cases);
	ERR_RAW("cancel", "{\"order\":\"" ID_2 "\"}", "body: cancel: order "
	    "must be bin(32)");
}

/* A clear body with the given price and volume (JSON texts). */
static const char *
clear(const char *price, const char *volume, const char *fills)
{
	return jf("{\"slot\":1800000000,\"set\":\"" ID_1 "\",\"price\":%s,"
	    "\"volume\":%s,\"fills\":%s}", price, volume, fills);
}

static void
test_clear(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"set\":\"" ID_1 "\",\"price\":null,\"volume\":0,"
		    "\"fills\":[]}", "body: clear: missing slot" },
		{ "{\"slot\":0,\"price\":null,\"volume\":0,\"fills\":[]}",
		    "body: clear: missing set" },
		{ "{\"slot\":0,\"set\":\"" ID_1 "\",\"volume\":0,"
		    "\"fills\":[]}", "body: clear: missing price" },
		{ "{\"slot\":0,\"set\":\"" ID_1 "\",\"price\":null,"
		    "\"fills\":[]}", "body: clear: missing volume" },
		{ "{\"slot\":0,\"set\":\"" ID_1 "\",\"price\":null,"
		    "\"volume\":0}", "body: clear: missing fills" },
		{ "{\"slot\":0,\"set\":\"" HEX31 "\",\"price\":null,"
		    "\"volume\":0,\"fills\":[]}", "body: clear: set must be "
		    "bin(32)" },
		{ "{\"slot\":null,\"set\":\"" ID_1 "\",\"price\":null,"
		    "\"volume\":0,\"fills\":[]}", "body: clear: slot must be "
		    "an unsigned integer" },
		{ "{\"slot\":0,\"set\":\"" ID_1 "\",\"price\":null,"
		    "\"volume\":-1,\"fills\":[]}", "body: clear: volume must be "
		    "an unsigned integer" },
		{ "{\"slot\":0,\"set\":\"" ID_1 "\",\"price\":null,"
		    "\"volume\":0,\"fills\":{}}", "body: clear: fills must be "
		    "an array" },
	};

	(void)state;
	OK("clear", clear("2500", "300", "[[\"" ID_1 "\",100],[\"" ID_2
	    "\",200]]"));
	assert_int_equal(B->type, KX_T_CLEAR);
	assert_true(B->u.clear.slot == S);
	assert_memory_equal(B->u.clear.set, HEX8("\x11\x11\x11\x11"), 32);
	assert_true(B->u.clear.has_price);
	assert_int_equal(B->u.clear.price, 2500);
	assert_int_equal(B->u.clear.volume, 300);
	assert_int_equal(B->u.clear.n, 2);
	assert_memory_equal(B->u.clear.id[0], HEX8("\x11\x11\x11\x11"), 32);
	assert_int_equal(B->u.clear.wh[0], 100);
	assert_memory_equal(B->u.clear.id[1], HEX8("\x22\x22\x22\x22"), 32);
	assert_int_equal(B->u.clear.wh[1], 200);

	/* no trade: nil price, zero volume */
	OK("clear", clear("null", "0", "[]"));
	assert_false(B->u.clear.has_price);
	assert_int_equal(B->u.clear.volume, 0);
	assert_int_equal(B->u.clear.n, 0);
	/* a price of 0 is a price */
	OK("clear", clear("0", "1", "[]"));
	assert_true(B->u.clear.has_price);
	assert_int_equal(B->u.clear.price, 0);
	OK("clear", clear("1000000", "1", "[]"));
	assert_int_equal(B->u.clear.price, 1000000);
	ERR("clear", clear("1000001", "1", "[]"), "body: clear: price must "
	    "be nil or 0 to 1000000");
	ERR("clear", clear("-1", "1", "[]"), "body: clear: price must be nil "
	    "or 0 to 1000000");
	ERR("clear", clear("\"2500\"", "1", "[]"), "body: clear: price must "
	    "be nil or 0 to 1000000");
	/* price nil exactly when volume is 0 */
	ERR("clear", clear("null", "1", "[]"), "body: clear: price must be "
	    "nil exactly when volume is 0");
	ERR("clear", clear("2500", "0", "[]"), "body: clear: price must be "
	    "nil exactly when volume is 0");
	ERR("clear", clear("0", "0", "[]"), "body: clear: price must be nil "
	    "exactly when volume is 0");
	/* fills */
	ERR("clear", clear("1", "1", "[[\"" ID_1 "\"]]"), "body: clear: "
	    "fills[0] must be [order id, wh]");
	ERR("clear", clear("1", "1", "[[\"" ID_1 "\",1],7]"), "body: clear: "
	    "fills[1] must be [order id, wh]");
	ERR("clear", clear("1", "1", "[[\"" ID_1 "\",1,2]]"), "body: clear: "
	    "fills[0] must be [order id, wh]");
	ERR("clear", clear("1", "1", "[[\"" HEX31 "\",1]]"), "body: clear: "
	    "fills[0]: order id must be bin(32)");
	ERR("clear", clear("1", "1", "[[5,1]]"), "body: clear: fills[0]: "
	    "order id must be bin(32)");
	ERR("clear", clear("1", "1", "[[\"" ID_1 "\",-1]]"), "body: clear: "
	    "fills[0]: wh must be an unsigned integer");
	ERR("clear", clear("1", "1", "[[\"" ID_1 "\",\"1\"]]"), "body: "
	    "clear: fills[0]: wh must be an unsigned integer");
	CASES("clear", cases);
}

/* 512 fills fit the schema (not a wire: that would exceed 16 KiB). */
static void
test_clear_many_fills(void **state)
{
	kx_buf_t	 body;
	char		*json, err[160];
	size_t		 l = 0, cap = 80000;
	int		 i;

	(void)state;
	kx_buf_init(&body);
	if ((json = malloc(cap)) == NULL)
		abort();
	l += (size_t)snprintf(json + l, cap - l, "{\"slot\":0,\"set\":\""
	    ID_1 "\",\"price\":1,\"volume\":1,\"fills\":[");
	for (i = 0; i < 512; i++)
		l += (size_t)snprintf(json + l, cap - l, "%s[\"%064x\",%d]",
		    i ? "," : "", i, i);
	snprintf(json + l, cap - l, "]}");
	assert_int_equal(kx_json_to_mp(&body, json, strlen(json),
	    kx_body_bin_paths("clear"), err, sizeof(err)), 0);
	assert_int_equal(parse_bytes("clear", body.data, body.len), KX_OK);
	assert_int_equal(B->u.clear.n, 512);
	assert_int_equal(B->u.clear.wh[511], 511);
	assert_int_equal(B->u.clear.id[511][31], 0xff);
	assert_int_equal(B->u.clear.id[511][30], 0x01);

	/* 513: refused by the count, before any entry is read */
	l = 0;
	kx_buf_reset(&body);
	l += (size_t)snprintf(json + l, cap - l, "{\"slot\":0,\"set\":\""
	    ID_1 "\",\"price\":1,\"volume\":1,\"fills\":[");
	for (i = 0; i < 513; i++)
		l += (size_t)snprintf(json + l, cap - l, "%s0", i ? "," : "");
	snprintf(json + l, cap - l, "]}");
	assert_int_equal(kx_json_to_mp(&body, json, strlen(json),
	    kx_body_bin_paths("clear"), err, sizeof(err)), 0);
	assert_int_equal(parse_bytes("clear", body.data, body.len), KX_EBODY);
	assert_string_equal(why.text, "body: clear: fills must hold 0 to 512 "
	    "entries");
	/* the same on a real wire */
	ERR("clear", json, "body: clear: fills must hold 0 to 512 entries");
	free(json);
	kx_buf_free(&body);
}

static void
test_reading(void **state)
{
	static const char *const to_only[] = { "to", NULL };
	static const struct bcase cases[] = {
		{ "{\"to\":\"" PK_A "\",\"box\":\"\"}", "body: reading: "
		    "missing slot" },
		{ "{\"slot\":0,\"box\":\"\"}", "body: reading: missing to" },
		{ "{\"slot\":0,\"to\":\"" PK_A "\"}", "body: reading: missing "
		    "box" },
		{ "{\"slot\":0,\"to\":\"" HEX31 "\",\"box\":\"\"}",
		    "body: reading: to must be bin(32)" },
		{ "{\"slot\":\"0\",\"to\":\"" PK_A "\",\"box\":\"\"}",
		    "body: reading: slot must be an unsigned integer" },
		{ "{\"slot\":0,\"to\":\"" PK_A "\",\"box\":\"\"}",
		    "body: reading: box must be a sealed box, bin(49 to "
		    "1024)" },
		{ "{\"slot\":0,\"to\":\"" PK_A "\",\"box\":5}",
		    "body: reading: box must be a sealed box, bin(49 to "
		    "1024)" },
	};

	(void)state;
	OK("reading", jf("{\"slot\":1800000000,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("ab", 49)));
	assert_int_equal(B->type, KX_T_READING);
	assert_true(B->u.reading.slot == S);
	assert_memory_equal(B->u.reading.to, HEX8("\xdd\xdd\xdd\xdd"), 32);
	assert_int_equal(B->u.reading.box_len, 49);
	assert_int_equal(B->u.reading.box[0], 0xab);
	assert_int_equal(B->u.reading.box[48], 0xab);
	ERR("reading", jf("{\"slot\":1800000000,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("ab", 48)), "body: reading: box must be a sealed "
	    "box, bin(49 to 1024)");
	OK("reading", jf("{\"slot\":1800000000,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("cd", 1024)));
	assert_int_equal(B->u.reading.box_len, 1024);
	ERR("reading", jf("{\"slot\":1800000000,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("cd", 1025)), "body: reading: box must be a sealed "
	    "box, bin(49 to 1024)");
	/* a str of 49 bytes is not a box */
	raw_bins = to_only;
	ERR_RAW("reading", jf("{\"slot\":0,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("x", 49)), "body: reading: box must be a sealed "
	    "box, bin(49 to 1024)");
	raw_bins = no_bins;
	ERR_RAW("reading", jf("{\"slot\":0,\"to\":\"" PK_D "\",\"box\":"
	    "\"%s\"}", rep("ab", 49)), "body: reading: to must be bin(32)");
	CASES("reading", cases);
}

static void
test_settle(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"lines\":[]}", "body: settle: missing slot" },
		{ "{\"slot\":0}", "body: settle: missing lines" },
		{ "{\"slot\":0,\"lines\":[]}", NULL },
		{ "{\"slot\":0,\"lines\":7}", "body: settle: lines must be an "
		    "array" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\"]]}", "body: settle: "
		    "lines[0] must be [pk, money]" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",0],null]}",
		    "body: settle: lines[1] must be [pk, money]" },
		{ "{\"slot\":0,\"lines\":[[\"" HEX31 "\",0]]}", "body: settle: "
		    "lines[0]: pk must be bin(32)" },
		{ "{\"slot\":0,\"lines\":[[0,0]]}", "body: settle: lines[0]: "
		    "pk must be bin(32)" },
		/* money is an int64 */
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",\"0\"]]}",
		    "body: settle: lines[0]: money must be an int64" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\","
		    "9223372036854775808],[\"" PK_B "\",-9223372036854775808]]}",
		    "body: settle: lines[0]: money must be an int64" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\","
		    "18446744073709551615]]}", "body: settle: lines[0]: money "
		    "must be an int64" },
		/* lines sum to zero */
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",5]]}", "body: settle: "
		    "lines do not sum to zero" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",5],[\"" PK_B "\",-4]]}",
		    "body: settle: lines do not sum to zero" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",0]]}", NULL },
		/* each member once */
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",5],[\"" PK_B "\",-5],"
		    "[\"" PK_A "\",0]]}", "body: settle: lines[2]: a member "
		    "has two lines" },
		{ "{\"slot\":0,\"lines\":[[\"" PK_A "\",0],[\"" PK_A "\",0]]}",
		    "body: settle: lines[1]: a member has two lines" },
	};

	(void)state;
	OK("settle", "{\"slot\":1800000000,\"lines\":[[\"" PK_A "\",150000],"
	    "[\"" PK_B "\",-100000],[\"" PK_C "\",-50000]]}");
	assert_int_equal(B->type, KX_T_SETTLE);
	assert_true(B->u.settle.slot == S);
	assert_int_equal(B->u.settle.n, 3);
	assert_memory_equal(B->u.settle.pk[0], HEX8("\xaa\xaa\xaa\xaa"), 32);
	assert_true(B->u.settle.money[0] == 150000);
	assert_memory_equal(B->u.settle.pk[1], HEX8("\xbb\xbb\xbb\xbb"), 32);
	assert_true(B->u.settle.money[1] == -100000);
	assert_true(B->u.settle.money[2] == -50000);
	/* the full int64 range, with partial sums beyond it */
	OK("settle", "{\"slot\":0,\"lines\":[[\"" PK_A "\","
	    "9223372036854775807],[\"" PK_B "\",9223372036854775807],"
	    "[\"" PK_C "\",-9223372036854775808],[\"" PK_D "\","
	    "-9223372036854775806]]}");
	assert_true(B->u.settle.money[0] == INT64_MAX);
	assert_true(B->u.settle.money[2] == INT64_MIN);
	/* ... and a sum that wraps to zero in 64 bits is not zero */
	ERR("settle", "{\"slot\":0,\"lines\":[[\"" PK_A "\","
	    "9223372036854775807],[\"" PK_B "\",9223372036854775807],"
	    "[\"" PK_C "\",2]]}", "body: settle: lines do not sum to zero");
	CASES("settle", cases);
}

static void
test_issue(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"points\":1,\"fy\":2026}", "body: issue: missing to" },
		{ "{\"to\":\"" PK_A "\",\"fy\":2026}", "body: issue: missing "
		    "points" },
		{ "{\"to\":\"" PK_A "\",\"points\":1}", "body: issue: missing "
		    "fy" },
		{ "{\"to\":\"" PK_A "\",\"points\":1,\"fy\":2026}", NULL },
		{ "{\"to\":\"" PK_A "\",\"points\":0,\"fy\":2026}", NULL },
		{ "{\"to\":\"" PK_A "\",\"points\":4294967295,\"fy\":2026}",
		    NULL },
		{ "{\"to\":\"" PK_A "\",\"points\":4294967296,\"fy\":2026}",
		    "body: issue: points is over 4294967295" },
		{ "{\"to\":\"" PK_A "\",\"points\":-1,\"fy\":2026}",
		    "body: issue: points must be an unsigned integer" },
		{ "{\"to\":\"" PK_A "\",\"points\":1,\"fy\":\"2026\"}",
		    "body: issue: fy must be an unsigned integer" },
		{ "{\"to\":\"" HEX33 "\",\"points\":1,\"fy\":2026}",
		    "body: issue: to must be bin(32)" },
		{ "{\"to\":\"" PK_A "\",\"points\":1,\"fy\":2026,"
		    "\"program\":1}", "body: issue: program must be a string" },
	};

	(void)state;
	OK("issue", "{\"to\":\"" PK_B "\",\"points\":300,\"program\":"
	    "\"walking\",\"fy\":2026}");
	assert_int_equal(B->type, KX_T_ISSUE);
	assert_memory_equal(B->u.issue.to, HEX8("\xbb\xbb\xbb\xbb"), 32);
	assert_int_equal(B->u.issue.points, 300);
	assert_int_equal(B->u.issue.fy, 2026);
	OK("issue", jf("{\"to\":\"" PK_B "\",\"points\":1,\"fy\":2026,"
	    "\"program\":\"%s\"}", rep("p", 32)));
	ERR("issue", jf("{\"to\":\"" PK_B "\",\"points\":1,\"fy\":2026,"
	    "\"program\":\"%s\"}", rep("p", 33)), "body: issue: program is "
	    "longer than 32 bytes");
	CASES("issue", cases);
}

static void
test_pay(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"to\":\"" PK_A "\",\"amount\":1}", "body: pay: missing "
		    "cur" },
		{ "{\"cur\":\"time\",\"amount\":1}", "body: pay: missing to" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\"}", "body: pay: "
		    "missing amount" },
		{ "{\"cur\":\"yen\",\"to\":\"" PK_A "\",\"amount\":1}",
		    "body: pay: cur has a value that is not allowed" },
		{ "{\"cur\":\"\",\"to\":\"" PK_A "\",\"amount\":1}",
		    "body: pay: cur has a value that is not allowed" },
		{ "{\"cur\":1,\"to\":\"" PK_A "\",\"amount\":1}",
		    "body: pay: cur must be a string" },
		{ "{\"cur\":\"time\",\"to\":\"" HEX31 "\",\"amount\":1}",
		    "body: pay: to must be bin(32)" },
		/* amount from 1 to 2^32-1 */
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":0}",
		    "body: pay: amount must be above 0" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1}", NULL },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":"
		    "4294967295}", NULL },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":"
		    "4294967296}", "body: pay: amount is over 4294967295" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":-1}",
		    "body: pay: amount must be an unsigned integer" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"memo\":[]}", "body: pay: memo must be a string" },
		/* in: ids, each once */
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":\"" ID_1 "\"}", "body: pay: in must be an array" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":[]}", NULL },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":[\"" HEX31 "\"]}", "body: pay: in[0] must be an id, "
		    "bin(32)" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":[\"" ID_1 "\",3]}", "body: pay: in[1] must be an id, "
		    "bin(32)" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":[\"" ID_1 "\",\"" ID_1 "\"]}", "body: pay: in[1] "
		    "cites an id twice" },
		{ "{\"cur\":\"time\",\"to\":\"" PK_A "\",\"amount\":1,"
		    "\"in\":[\"" ID_1 "\",\"" ID_2 "\",\"" ID_1 "\"]}",
		    "body: pay: in[2] cites an id twice" },
	};

	(void)state;
	OK("pay", "{\"cur\":\"health\",\"to\":\"" PK_C "\",\"amount\":120,"
	    "\"memo\":\"for the onsen\",\"in\":[\"" ID_1 "\",\"" ID_2 "\"]}");
	assert_int_equal(B->type, KX_T_PAY);
	assert_int_equal(B->u.pay.cur, KX_CUR_HEALTH);
	assert_memory_equal(B->u.pay.to, HEX8("\xcc\xcc\xcc\xcc"), 32);
	assert_int_equal(B->u.pay.amount, 120);
	assert_int_equal(B->u.pay.n_in, 2);
	assert_memory_equal(B->u.pay.in[0], HEX8("\x11\x11\x11\x11"), 32);
	assert_memory_equal(B->u.pay.in[1], HEX8("\x22\x22\x22\x22"), 32);
	OK("pay", "{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":"
	    "4294967295}");
	assert_int_equal(B->u.pay.cur, KX_CUR_TIME);
	assert_true(B->u.pay.amount == UINT32_MAX);
	assert_int_equal(B->u.pay.n_in, 0);
	/* memo: 140 bytes, 141 not (bytes, not characters) */
	OK("pay", jf("{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":1,"
	    "\"memo\":\"%s\"}", rep("m", 140)));
	ERR("pay", jf("{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":1,"
	    "\"memo\":\"%s\"}", rep("m", 141)), "body: pay: memo is longer "
	    "than 140 bytes");
	OK("pay", jf("{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":1,"
	    "\"memo\":\"%sxy\"}", rep("\xe3\x81\x82", 46)));
	ERR("pay", jf("{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":1,"
	    "\"memo\":\"%sxyz\"}", rep("\xe3\x81\x82", 46)), "body: pay: memo "
	    "is longer than 140 bytes");
	CASES("pay", cases);
	ERR_RAW("pay", "{\"cur\":\"time\",\"to\":\"" PK_C "\",\"amount\":1}",
	    "body: pay: to must be bin(32)");
}

static void
test_listing(void **state)
{
	static const struct bcase cases[] = {
		{ "{\"cur\":\"time\",\"title\":\"t\",\"until\":0}",
		    "body: listing: missing kind" },
		{ "{\"kind\":\"want\",\"title\":\"t\",\"until\":0}",
		    "body: listing: missing cur" },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"until\":0}",
		    "body: listing: missing title" },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"title\":\"t\"}",
		    "body: listing: missing until" },
		{ "{\"kind\":\"sell\",\"cur\":\"time\",\"title\":\"t\","
		    "\"until\":0}", "body: listing: kind has a value that is "
		    "not allowed" },
		/* time-bank only */
		{ "{\"kind\":\"want\",\"cur\":\"health\",\"title\":\"t\","
		    "\"until\":0}", "body: listing: cur has a value that is "
		    "not allowed" },
		{ "{\"kind\":\"want\",\"cur\":\"Time\",\"title\":\"t\","
		    "\"until\":0}", "body: listing: cur has a value that is "
		    "not allowed" },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"title\":1,"
		    "\"until\":0}", "body: listing: title must be a string" },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"title\":\"t\","
		    "\"until\":\"0\"}", "body: listing: until must be an "
		    "int64" },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"title\":\"t\","
		    "\"until\":-1}", NULL },
		{ "{\"kind\":\"want\",\"cur\":\"time\",\"title\":\"\","
		    "\"until\":0}", NULL },
	};

	(void)state;
	OK("listing", "{\"kind\":\"offer\",\"cur\":\"time\",\"title\":"
	    "\"Snow shovelling\",\"area\":\"Yamanaka\",\"until\":"
	    "1900000000000}");
	assert_int_equal(B->type, KX_T_LISTING);
	assert_int_equal(B->u.listing.kind, KX_OFFER);
	assert_true(B->u.listing.until == 1900000000000LL);
	OK("listing", "{\"kind\":\"want\",\"cur\":\"time\",\"title\":\"x\","
	    "\"until\":-5}");
	assert_int_equal(B->u.listing.kind, KX_WANT);
	assert_true(B->u.listing.until == -5);
	OK("listing", jf("{\"kind\":\"want\",\"cur\":\"time\",\"title\":"
	    "\"%s\",\"until\":0}", rep("t", 80)));
	ERR("listing", jf("{\"kind\":\"want\",\"cur\":\"time\",\"title\":"
	    "\"%s\",\"until\":0}", rep("t", 81)), "body: listing: title is "
	    "longer than 80 bytes");
	OK("listing", jf("{\"kind\":\"want\",\"cur\":\"time\",\"title\":"
	    "\"t\",\"area\":\"%s\",\"until\":0}", rep("a", 32)));
	ERR("listing", jf("{\"kind\":\"want\",\"cur\":\"time\",\"title\":"
	    "\"t\",\"area\":\"%s\",\"until\":0}", rep("a", 33)), "body: "
	    "listing: area is longer than 32 bytes");
	CASES("listing", cases);
}

/* summary and unknown types: any map is accepted, nothing is read. */
static void
test_summary_and_unknown(void **state)
{
	(void)state;
	OK("summary", "{\"households\":42,\"kwh\":[1,2,3],\"note\":null}");
	assert_int_equal(B->type, KX_T_SUMMARY);
	OK("summary", "{}");
	assert_int_equal(B->type, KX_T_SUMMARY);
	OK("weather", "{\"temp\":-3,\"wind\":{\"dir\":\"n\"}}");
	assert_int_equal(B->type, KX_T_UNKNOWN);
	OK("", "{}");
	assert_int_equal(B->type, KX_T_UNKNOWN);
	/* the name of a type is matched exactly */
	OK("Order", "{\"x\":1}");
	assert_int_equal(B->type, KX_T_UNKNOWN);
}

/*
 * Who may author what
 */

/* The rule of PROTOCOL.md section 4, written out independently. */
static bool
may_author(kx_type_t t, bool op, kx_role_t r)
{
	switch (t) {
	case KX_T_MEMBER: case KX_T_REVOKE: case KX_T_MARKET:
	case KX_T_CLEAR: case KX_T_SETTLE:
		return op;
	case KX_T_ISSUE:
		return r == KX_ROLE_ISSUER;
	case KX_T_ORDER: case KX_T_CANCEL:
		return r == KX_ROLE_HOUSEHOLD || r == KX_ROLE_RYOKAN ||
		    r == KX_ROLE_FARM || r == KX_ROLE_BUSINESS;
	case KX_T_SUMMARY:
		return op || r == KX_ROLE_CITY;
	case KX_T_READING: case KX_T_PAY: case KX_T_LISTING:
	case KX_T_UNKNOWN:
		return true;
	}
	return false;
}

static void
test_authority_all(void **state)
{
	kx_why_t	 w;
	int		 t, r, op, rc, refused = 0;

	(void)state;
	for (t = KX_T_UNKNOWN; t <= KX_T_SUMMARY; t++)
		for (r = KX_ROLE_NONE; r <= KX_ROLE_CITY; r++)
			for (op = 0; op <= 1; op++) {
				memset(&w, 0, sizeof(w));
				rc = kx_body_authority((kx_type_t)t, op,
				    (kx_role_t)r, &w);
				if (rc != (may_author((kx_type_t)t, op,
				    (kx_role_t)r) ? KX_OK : KX_EBODY)) {
					print_error("type %d role %s op %d: "
					    "rc %d\n", t,
					    kx_role_name((kx_role_t)r), op,
					    rc);
					fail();
				}
				if (rc == KX_EBODY) {
					refused++;
					assert_true(strncmp(w.text, "body: "
					    "authority: only ", 22) == 0);
				}
				/* no reason buffer: same answer */
				assert_int_equal(kx_body_authority(
				    (kx_type_t)t, op, (kx_role_t)r, NULL), rc);
			}
	/* 5 operator types x 9 roles + issue 16 + order, cancel 10 each
	 * + summary 8 */
	assert_int_equal(refused, 45 + 16 + 20 + 8);
}

static void
test_authority_examples(void **state)
{
	kx_why_t	 w;

	(void)state;
	/* operator-only types: the role does not matter */
	assert_int_equal(kx_body_authority(KX_T_MEMBER, true, KX_ROLE_NONE,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_SETTLE, true,
	    KX_ROLE_HOUSEHOLD, &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_MARKET, false,
	    KX_ROLE_OPERATOR, &w), KX_EBODY);
	assert_string_equal(w.text, "body: authority: only an operator key "
	    "may author this type");
	assert_int_equal(kx_body_authority(KX_T_CLEAR, false, KX_ROLE_CITY,
	    &w), KX_EBODY);
	assert_int_equal(kx_body_authority(KX_T_REVOKE, false,
	    KX_ROLE_ISSUER, &w), KX_EBODY);
	/* issue: only an issuer, not even an operator key */
	assert_int_equal(kx_body_authority(KX_T_ISSUE, false, KX_ROLE_ISSUER,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_ISSUE, true, KX_ROLE_NONE,
	    &w), KX_EBODY);
	assert_string_equal(w.text, "body: authority: only an admitted "
	    "issuer may author this type");
	assert_int_equal(kx_body_authority(KX_T_ISSUE, false,
	    KX_ROLE_MERCHANT, &w), KX_EBODY);
	/* order and cancel: the four trading roles */
	assert_int_equal(kx_body_authority(KX_T_ORDER, false, KX_ROLE_RYOKAN,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_CANCEL, false,
	    KX_ROLE_BUSINESS, &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_ORDER, false,
	    KX_ROLE_MERCHANT, &w), KX_EBODY);
	assert_string_equal(w.text, "body: authority: only a household, "
	    "ryokan, farm or business may author this type");
	assert_int_equal(kx_body_authority(KX_T_CANCEL, true,
	    KX_ROLE_OPERATOR, &w), KX_EBODY);
	assert_int_equal(kx_body_authority(KX_T_ORDER, false, KX_ROLE_CITY,
	    &w), KX_EBODY);
	/* summary: an operator key or a city */
	assert_int_equal(kx_body_authority(KX_T_SUMMARY, true, KX_ROLE_NONE,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_SUMMARY, false, KX_ROLE_CITY,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_SUMMARY, false,
	    KX_ROLE_OPERATOR, &w), KX_EBODY);
	assert_string_equal(w.text, "body: authority: only an operator key "
	    "or a city member may author this type");
	/* anyone: pay, listing, reading, unknown types */
	assert_int_equal(kx_body_authority(KX_T_PAY, false, KX_ROLE_MERCHANT,
	    &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_LISTING, false,
	    KX_ROLE_HOUSEHOLD, &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_READING, false,
	    KX_ROLE_FARM, &w), KX_OK);
	assert_int_equal(kx_body_authority(KX_T_UNKNOWN, false,
	    KX_ROLE_ISSUER, &w), KX_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_params_default),
		cmocka_unit_test(test_bin_paths),
		cmocka_unit_test(test_not_a_map),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_market),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_gate),
		cmocka_unit_test(test_gate_ms),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_clear_many_fills),
		cmocka_unit_test(test_reading),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_issue),
		cmocka_unit_test(test_pay),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_summary_and_unknown),
		cmocka_unit_test(test_authority_all),
		cmocka_unit_test(test_authority_examples),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
