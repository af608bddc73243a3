/*
 * test_json.c - JSON <-> msgpack converters (protocols/json.c).
 *
 * Exact msgpack bytes for JSON input, exact messages for every class of
 * malformed JSON, exact JSON for every msgpack format, the failure of
 * malformed, truncated and trailing msgpack, and json -> mp -> json round
 * trips of canonical text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "testutil.h"

static const char *const	 no_bins[] = { NULL };

/*
 * Helpers: each reports the input and the line of the caller on failure.
 */

static void
print_bytes(const char *what, const uint8_t *b, size_t n)
{
	char	 line[3 * 64 + 8];
	size_t	 i, l = 0;

	for (i = 0; i < n && i < 64; i++)
		l += (size_t)snprintf(line + l, sizeof(line) - l, "%02x ", b[i]);
	if (n > 64)
		snprintf(line + l, sizeof(line) - l, "...");
	print_error("%s (%zu bytes): %s\n", what, n, line);
}

/* JSON (NUL-terminated) must convert to exactly the bytes `hex`. */
#define J2MP(json, bins, hex) \
	j2mp_ok(json, strlen(json), bins, hex, __FILE__, __LINE__)
#define J2MP_N(json, len, bins, hex) \
	j2mp_ok(json, len, bins, hex, __FILE__, __LINE__)

static void
j2mp_ok(const char *json, size_t len, const char *const *bins,
    const char *hex, const char *file, int line)
{
	kx_buf_t	 out;
	uint8_t		 want[256];
	size_t		 n;
	char		 err[160];
	int		 rc;

	n = unhex(hex, want, sizeof(want));
	kx_buf_init(&out);
	rc = kx_json_to_mp(&out, json, len, bins, err, sizeof(err));
	if (rc != 0 || out.len != n || memcmp(out.data, want, n) != 0) {
		print_error("input: %.*s\n", (int)len, json);
		if (rc != 0)
			print_error("error: %s\n", err);
		print_bytes("want", want, n);
		print_bytes("got ", out.data, out.len);
		kx_buf_free(&out);
		_fail(file, line);
	}
	kx_buf_free(&out);
}

/* JSON must be refused with exactly the message `msg`. */
#define J2MP_ERR(json, bins, msg) \
	j2mp_err(json, strlen(json), bins, msg, __FILE__, __LINE__)
#define J2MP_ERR_N(json, len, bins, msg) \
	j2mp_err(json, len, bins, msg, __FILE__, __LINE__)

static void
j2mp_err(const char *json, size_t len, const char *const *bins,
    const char *msg, const char *file, int line)
{
	kx_buf_t	 out;
	char		 err[160];
	int		 rc;

	kx_buf_init(&out);
	memset(err, 'X', sizeof(err));
	rc = kx_json_to_mp(&out, json, len, bins, err, sizeof(err));
	kx_buf_free(&out);
	if (rc != -1 || strcmp(err, msg) != 0) {
		print_error("input: %.*s\n", (int)len, json);
		print_error("rc %d, want message: %s\n", rc, msg);
		print_error("             got: %.*s\n", (int)sizeof(err), err);
		_fail(file, line);
	}
}

/* msgpack `hex` must print as exactly `json`. */
#define M2J(hex, json)	m2j_ok(hex, json, __FILE__, __LINE__)

static void
m2j_bytes_ok(const uint8_t *b, size_t n, const char *json, const char *file,
    int line)
{
	kx_buf_t	 out;
	int		 rc;

	kx_buf_init(&out);
	rc = kx_mp_to_json(&out, b, n);
	if (rc != 0 || kx_buf_cstr(&out) != 0 ||
	    strcmp((char *)out.data, json) != 0) {
		print_bytes("input", b, n);
		print_error("rc %d, want: %s\n", rc, json);
		print_error("       got: %s\n", out.data ? (char *)out.data :
		    "(null)");
		kx_buf_free(&out);
		_fail(file, line);
	}
	kx_buf_free(&out);
}

static void
m2j_ok(const char *hex, const char *json, const char *file, int line)
{
	uint8_t	 b[256];

	m2j_bytes_ok(b, unhex(hex, b, sizeof(b)), json, file, line);
}

/* msgpack `hex` must be refused. */
#define M2J_ERR(hex)	m2j_err(hex, __FILE__, __LINE__)

static void
m2j_bytes_err(const uint8_t *b, size_t n, const char *file, int line)
{
	kx_buf_t	 out;
	int		 rc;

	kx_buf_init(&out);
	rc = kx_mp_to_json(&out, b, n);
	kx_buf_free(&out);
	if (rc != -1) {
		print_bytes("input", b, n);
		print_error("accepted, should be refused\n");
		_fail(file, line);
	}
}

static void
m2j_err(const char *hex, const char *file, int line)
{
	uint8_t	 b[256];

	m2j_bytes_err(b, unhex(hex, b, sizeof(b)), file, line);
}

/* Canonical JSON must come back unchanged through msgpack. */
#define ROUND(json, bins)	round_ok(json, bins, __FILE__, __LINE__)

static void
round_ok(const char *json, const char *const *bins, const char *file,
    int line)
{
	kx_buf_t	 mp, js;
	char		 err[160];
	int		 rc1, rc2 = -1;

	kx_buf_init(&mp);
	kx_buf_init(&js);
	rc1 = kx_json_to_mp(&mp, json, strlen(json), bins, err, sizeof(err));
	if (rc1 == 0)
		rc2 = kx_mp_to_json(&js, mp.data, mp.len);
	if (rc1 != 0 || rc2 != 0 || kx_buf_cstr(&js) != 0 ||
	    strcmp((char *)js.data, json) != 0) {
		print_error("input: %s\n", json);
		if (rc1 != 0)
			print_error("json_to_mp: %s\n", err);
		else
			print_error("output: %s\n", js.data ?
			    (char *)js.data : "(null)");
		kx_buf_free(&mp);
		kx_buf_free(&js);
		_fail(file, line);
	}
	kx_buf_free(&mp);
	kx_buf_free(&js);
}

/* A string of `n` copies of `unit`, then `tail`; the caller frees it. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	kx_buf_t	 b;
	size_t		 i;

	kx_buf_init(&b);
	kx_buf_puts(&b, head);
	for (i = 0; i < n; i++)
		kx_buf_puts(&b, unit);
	kx_buf_puts(&b, tail);
	assert_int_equal(kx_buf_cstr(&b), 0);
	return (char *)b.data;
}

/*
 * JSON -> msgpack: accepted input
 */

static void
test_j2mp_literals(void **state)
{
	(void)state;
	J2MP("null", NULL, "c0");
	J2MP("true", NULL, "c3");
	J2MP("false", NULL, "c2");
	J2MP(" \t\r\n true \t\r\n ", NULL, "c3");
}

static void
test_j2mp_integers(void **state)
{
	(void)state;
	J2MP("0", NULL, "00");
	J2MP("-0", NULL, "00");
	J2MP("1", NULL, "01");
	J2MP("127", NULL, "7f");
	J2MP("128", NULL, "cc 80");
	J2MP("255", NULL, "cc ff");
	J2MP("256", NULL, "cd 01 00");
	J2MP("300", NULL, "cd 01 2c");
	J2MP("65535", NULL, "cd ff ff");
	J2MP("65536", NULL, "ce 00 01 00 00");
	J2MP("4294967295", NULL, "ce ff ff ff ff");
	J2MP("4294967296", NULL, "cf 00 00 00 01 00 00 00 00");
	J2MP("9223372036854775807", NULL, "cf 7f ff ff ff ff ff ff ff");
	J2MP("9223372036854775808", NULL, "cf 80 00 00 00 00 00 00 00");
	J2MP("18446744073709551615", NULL, "cf ff ff ff ff ff ff ff ff");
	J2MP("-1", NULL, "ff");
	J2MP("-32", NULL, "e0");
	J2MP("-33", NULL, "d0 df");
	J2MP("-128", NULL, "d0 80");
	J2MP("-129", NULL, "d1 ff 7f");
	J2MP("-32768", NULL, "d1 80 00");
	J2MP("-32769", NULL, "d2 ff ff 7f ff");
	J2MP("-2147483648", NULL, "d2 80 00 00 00");
	J2MP("-2147483649", NULL, "d3 ff ff ff ff 7f ff ff ff");
	J2MP("-9223372036854775808", NULL, "d3 80 00 00 00 00 00 00 00");
	J2MP("[-0,0]", NULL, "92 00 00");
}

static void
test_j2mp_strings(void **state)
{
	char	*s;
	kx_buf_t out;
	char	 err[160];

	(void)state;
	J2MP("\"\"", NULL, "a0");
	J2MP("\"a\"", NULL, "a1 61");
	J2MP("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", NULL,
	    "a8 22 5c 2f 08 0c 0a 0d 09");
	J2MP("\"\\u0000\"", NULL, "a1 00");
	J2MP("\"\\u0041\\u00e9\\u00E9\"", NULL, "a5 41 c3 a9 c3 a9");
	J2MP("\"\\u07ff\\u0800\"", NULL, "a5 df bf e0 a0 80");
	J2MP("\"\\u20ac\\uffff\"", NULL, "a6 e2 82 ac ef bf bf");
	J2MP("\"\\ud83d\\ude00\"", NULL, "a4 f0 9f 98 80");
	J2MP("\"\\uD800\\uDC00\\uDBFF\\uDFFF\"", NULL,
	    "a8 f0 90 80 80 f4 8f bf bf");
	/* Raw UTF-8 is copied: 2, 3 and 4 byte forms, the extremes. */
	J2MP("\"\xc2\x80\xdf\xbf\"", NULL, "a4 c2 80 df bf");
	J2MP("\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"", NULL,
	    "ac e0 a0 80 ed 9f bf ee 80 80 ef bf bf");
	J2MP("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", NULL,
	    "a8 f0 90 80 80 f4 8f bf bf");
	J2MP("\"\x7f\"", NULL, "a1 7f");
	/* str8 and str16 headers. */
	s = repeat("\"", "a", 31, "\"");
	kx_buf_init(&out);
	assert_int_equal(kx_json_to_mp(&out, s, strlen(s), NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(out.len, 32);
	assert_int_equal(out.data[0], 0xbf);
	free(s);
	s = repeat("\"", "a", 32, "\"");
	kx_buf_reset(&out);
	assert_int_equal(kx_json_to_mp(&out, s, strlen(s), NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(out.len, 34);
	assert_int_equal(out.data[0], 0xd9);
	assert_int_equal(out.data[1], 32);
	free(s);
	s = repeat("\"", "\\u00e9", 200, "\"");	/* 400 bytes decoded */
	kx_buf_reset(&out);
	assert_int_equal(kx_json_to_mp(&out, s, strlen(s), NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(out.len, 403);
	assert_memory_equal(out.data, "\xda\x01\x90\xc3\xa9", 5);
	free(s);
	kx_buf_free(&out);
}

static void
test_j2mp_containers(void **state)
{
	(void)state;
	J2MP("{\"a\":1}", NULL, "81 a1 61 01");
	J2MP("{}", NULL, "80");
	J2MP("[]", NULL, "90");
	J2MP("[ ]", NULL, "90");
	J2MP("{ }", NULL, "80");
	J2MP("[1,[2,{}],\"x\"]", NULL, "93 01 92 02 80 a1 78");
	/* Key order is kept as written. */
	J2MP("{\"b\":1,\"a\":2}", NULL, "82 a1 62 01 a1 61 02");
	J2MP("{\"\":null}", NULL, "81 a0 c0");
	J2MP(" { \"a\" : [ 1 , 2 ] , \"b\" : { } } ", NULL,
	    "82 a1 61 92 01 02 a1 62 80");
	J2MP("[[[[]]]]", NULL, "91 91 91 90");
	J2MP("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]", NULL,
	    "9f 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
	J2MP("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]", NULL,
	    "dc 00 10 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10");
	J2MP("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
	    "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,"
	    "\"o\":15,\"p\":16}", NULL,
	    "de 00 10 a1 61 01 a1 62 02 a1 63 03 a1 64 04 a1 65 05 a1 66 06"
	    " a1 67 07 a1 68 08 a1 69 09 a1 6a 0a a1 6b 0b a1 6c 0c a1 6d 0d"
	    " a1 6e 0e a1 6f 0f a1 70 10");
	/* The header of an inner container shrinks inside an outer one. */
	J2MP("{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],\"b\":0}", NULL,
	    "82 a1 61 dc 00 10 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"
	    " 10 a1 62 00");
}

/* array32 and map32 headers, and a big object through the key hash. */
static void
test_j2mp_big_containers(void **state)
{
	kx_buf_t	 out, js;
	char		 err[160], key[32];
	char		*s;
	size_t		 i;

	(void)state;
	kx_buf_init(&out);
	s = repeat("[", "0,", 65535, "0]");
	assert_int_equal(kx_json_to_mp(&out, s, strlen(s), NULL, err,
	    sizeof(err)), 0);
	free(s);
	assert_int_equal(out.len, 5 + 65536);
	assert_memory_equal(out.data, "\xdd\x00\x01\x00\x00\x00", 6);

	kx_buf_init(&js);
	kx_buf_putc(&js, '{');
	for (i = 0; i < 70000; i++) {
		snprintf(key, sizeof(key), "%s\"k%zu\":%zu", i ? "," : "", i,
		    i % 100);
		kx_buf_puts(&js, key);
	}
	kx_buf_putc(&js, '}');
	kx_buf_reset(&out);
	assert_int_equal(kx_json_to_mp(&out, (char *)js.data, js.len, NULL,
	    err, sizeof(err)), 0);
	assert_memory_equal(out.data, "\xdf\x00\x01\x11\x70\xa2k0\x00", 9);
	/* The same with one key repeated at the end. */
	js.len--;
	kx_buf_puts(&js, ",\"k69999\":1}");
	kx_buf_reset(&out);
	assert_int_equal(kx_json_to_mp(&out, (char *)js.data, js.len, NULL,
	    err, sizeof(err)), -1);
	snprintf(key, sizeof(key), "json: at byte %zu: ", js.len - 11);
	assert_true(strncmp(err, key, strlen(key)) == 0);
	assert_string_equal(err + strlen(key), "duplicate key \"k69999\"");
	kx_buf_free(&js);
	kx_buf_free(&out);
}

static void
test_j2mp_depth(void **state)
{
	char	*s;

	(void)state;
	/* 32 levels are fine. */
	s = repeat("", "[", 32, "");
	{
		char	*t = repeat(s, "]", 32, "");
		kx_buf_t out;
		char	 err[160];

		kx_buf_init(&out);
		assert_int_equal(kx_json_to_mp(&out, t, strlen(t), NULL, err,
		    sizeof(err)), 0);
		assert_int_equal(out.len, 32);
		assert_int_equal(out.data[31], 0x90);
		kx_buf_free(&out);
		free(t);
	}
	free(s);
	/* 33 are not, arrays or objects. */
	s = repeat("", "[", 33, "");
	J2MP_ERR(s, NULL, "json: at byte 32: nesting deeper than 32 levels");
	free(s);
	s = repeat("", "{\"a\":", 33, "");
	J2MP_ERR(s, NULL, "json: at byte 160: nesting deeper than 32 levels");
	free(s);
	/* Far deeper input fails the same way, without deep recursion. */
	s = repeat("", "[", 100000, "");
	J2MP_ERR(s, NULL, "json: at byte 32: nesting deeper than 32 levels");
	free(s);
}

static void
test_j2mp_bin_paths(void **state)
{
	static const char *const node[] = { "node", NULL };
	static const char *const fills[] = { "fills/*/0", NULL };
	static const char *const in[] = { "in/*", NULL };
	static const char *const idx[] = { "a/1", NULL };
	static const char *const any[] = { "*", NULL };
	static const char *const top[] = { "", NULL };
	static const char *const deep[] = { "in/*/x", NULL };
	static const char *const two[] = { "x", "y/z", NULL };

	(void)state;
	J2MP("{\"node\":\"00ff\"}", node, "81 a4 6e 6f 64 65 c4 02 00 ff");
	J2MP("{\"node\":\"\"}", node, "81 a4 6e 6f 64 65 c4 00");
	J2MP("{\"node\":\"0123456789abcdef\"}", node,
	    "81 a4 6e 6f 64 65 c4 08 01 23 45 67 89 ab cd ef");
	/* Escapes are decoded before the hex is read. */
	J2MP("{\"node\":\"\\u0061b\"}", node, "81 a4 6e 6f 64 65 c4 01 ab");
	/* Without bin paths the same text is a str. */
	J2MP("{\"node\":\"00ff\"}", NULL, "81 a4 6e 6f 64 65 a4 30 30 66 66");
	J2MP("{\"node\":\"00ff\"}", no_bins,
	    "81 a4 6e 6f 64 65 a4 30 30 66 66");
	/* Another key, or the same key deeper, is not the path. */
	J2MP("{\"nodes\":\"ab\",\"x\":{\"node\":\"ab\"}}", node,
	    "82 a5 6e 6f 64 65 73 a2 61 62 a1 78 81 a4 6e 6f 64 65 a2 61 62");
	/* Keys are never bin, other types pass through. */
	J2MP("{\"node\":12}", node, "81 a4 6e 6f 64 65 0c");
	J2MP("{\"node\":null}", node, "81 a4 6e 6f 64 65 c0");
	J2MP("{\"node\":[\"ab\"]}", node, "81 a4 6e 6f 64 65 91 a2 61 62");
	/* '*' over array indices. */
	J2MP("{\"fills\":[[\"ab\",\"cd\"],[\"ef\",\"01\"]]}", fills,
	    "81 a5 66 69 6c 6c 73 92 92 c4 01 ab a2 63 64"
	    " 92 c4 01 ef a2 30 31");
	/* '*' over object keys and over array indices. */
	J2MP("{\"in\":{\"x\":\"ab\",\"y\":\"cd\"}}", in,
	    "81 a2 69 6e 82 a1 78 c4 01 ab a1 79 c4 01 cd");
	J2MP("{\"in\":[\"ab\",\"cd\"]}", in,
	    "81 a2 69 6e 92 c4 01 ab c4 01 cd");
	/* A decimal index names one element only. */
	J2MP("{\"a\":[\"ab\",\"cd\",\"ef\"]}", idx,
	    "81 a1 61 93 a2 61 62 c4 01 cd a2 65 66");
	/* An index segment does not name an object key "1"... */
	J2MP("{\"a\":{\"1\":\"ab\"}}", idx, "81 a1 61 81 a1 31 c4 01 ab");
	/* ...it does, as the text "1" is that key. */
	J2MP("{\"a\":{\"01\":\"ab\"}}", idx, "81 a1 61 81 a2 30 31 a2 61 62");
	J2MP("{\"p\":\"ab\",\"q\":\"cd\"}", any,
	    "82 a1 70 c4 01 ab a1 71 c4 01 cd");
	J2MP("\"abcd\"", top, "c4 02 ab cd");
	J2MP("[\"abcd\"]", top, "91 a4 61 62 63 64");
	/* A pattern longer than the path does not match. */
	J2MP("{\"in\":[\"ab\"]}", deep, "81 a2 69 6e 91 a2 61 62");
	J2MP("{\"in\":[{\"x\":\"ab\"}]}", deep,
	    "81 a2 69 6e 91 81 a1 78 c4 01 ab");
	J2MP("{\"x\":\"ab\",\"y\":{\"z\":\"cd\"}}", two,
	    "82 a1 78 c4 01 ab a1 79 81 a1 7a c4 01 cd");
}

/*
 * JSON -> msgpack: refused input, with exact messages
 */

static void
test_j2mp_syntax_errors(void **state)
{
	(void)state;
	J2MP_ERR("", NULL,
	    "json: at byte 0: unexpected end of input (expected a value)");
	J2MP_ERR("   ", NULL,
	    "json: at byte 3: unexpected end of input (expected a value)");
	J2MP_ERR("[", NULL,
	    "json: at byte 1: unexpected end of input (expected a value)");
	J2MP_ERR("[1", NULL,
	    "json: at byte 2: unexpected end of input (expected ',' or ']')");
	J2MP_ERR("{", NULL, "json: at byte 1: unexpected end of input "
	    "(expected a string key)");
	J2MP_ERR("{\"a\"", NULL,
	    "json: at byte 4: unexpected end of input (expected ':')");
	J2MP_ERR("{\"a\":", NULL,
	    "json: at byte 5: unexpected end of input (expected a value)");
	J2MP_ERR("{\"a\":1", NULL,
	    "json: at byte 6: unexpected end of input (expected ',' or '}')");
	J2MP_ERR("[1,]", NULL, "json: at byte 3: expected a value, found ']'");
	J2MP_ERR("[,1]", NULL, "json: at byte 1: expected a value, found ','");
	J2MP_ERR("[1 2]", NULL, "json: at byte 3: expected ',' or ']'");
	J2MP_ERR("[1:2]", NULL, "json: at byte 2: expected ',' or ']'");
	J2MP_ERR("{\"a\" 1}", NULL, "json: at byte 5: expected ':'");
	J2MP_ERR("{\"a\":1,}", NULL,
	    "json: at byte 7: expected a string key");
	J2MP_ERR("{\"a\":1 \"b\":2}", NULL,
	    "json: at byte 7: expected ',' or '}'");
	J2MP_ERR("{1:2}", NULL, "json: at byte 1: expected a string key");
	J2MP_ERR("{a:2}", NULL, "json: at byte 1: expected a string key");
	J2MP_ERR("{\"a\":}", NULL,
	    "json: at byte 5: expected a value, found '}'");
	J2MP_ERR("{\"a\"::1}", NULL,
	    "json: at byte 5: expected a value, found ':'");
	J2MP_ERR("[1}", NULL, "json: at byte 2: expected ',' or ']'");
	J2MP_ERR("{\"a\":1]", NULL, "json: at byte 6: expected ',' or '}'");
	J2MP_ERR("'a'", NULL, "json: at byte 0: expected a value, found '''");
	J2MP_ERR("]", NULL, "json: at byte 0: expected a value, found ']'");
	J2MP_ERR("\xef\xbb\xbf" "1", NULL,
	    "json: at byte 0: expected a value, found byte 0xef");
	J2MP_ERR_N("\0", 1, NULL,
	    "json: at byte 0: expected a value, found byte 0x00");
	J2MP_ERR_N("1\0", 2, NULL,
	    "json: at byte 1: unexpected data after the value");
	J2MP_ERR("\f1", NULL,
	    "json: at byte 0: expected a value, found byte 0x0c");
	/* Literals. */
	J2MP_ERR("tru", NULL, "json: at byte 0: invalid literal "
	    "(expected true, false or null)");
	J2MP_ERR("True", NULL, "json: at byte 0: expected a value, found 'T'");
	J2MP_ERR("nul", NULL, "json: at byte 0: invalid literal "
	    "(expected true, false or null)");
	J2MP_ERR("[fals]", NULL, "json: at byte 1: invalid literal "
	    "(expected true, false or null)");
	J2MP_ERR("nulll", NULL,
	    "json: at byte 4: unexpected data after the value");
	J2MP_ERR("NaN", NULL, "json: at byte 0: expected a value, found 'N'");
	/* Trailing garbage, a second value. */
	J2MP_ERR("1 2", NULL,
	    "json: at byte 2: unexpected data after the value");
	J2MP_ERR("{}x", NULL,
	    "json: at byte 2: unexpected data after the value");
	J2MP_ERR("[1,2]]", NULL,
	    "json: at byte 5: unexpected data after the value");
	J2MP_ERR("{} {}", NULL,
	    "json: at byte 3: unexpected data after the value");
	J2MP_ERR("0x10", NULL,
	    "json: at byte 1: unexpected data after the value");
}

static void
test_j2mp_number_errors(void **state)
{
	static const char	 flt[] = "numbers must be integers "
	    "(no floating point in the protocol)";
	static const char	 rng[] = "number out of range "
	    "(-9223372036854775808..18446744073709551615)";
	char			 msg[160];

#define AT(n, m)	(snprintf(msg, sizeof(msg), "json: at byte %d: %s", \
			    n, m), msg)
	(void)state;
	J2MP_ERR("1.5", NULL, AT(0, flt));
	J2MP_ERR("{\"a\":1.5}", NULL, AT(5, flt));
	J2MP_ERR("1.", NULL, AT(0, flt));
	J2MP_ERR("0.0", NULL, AT(0, flt));
	J2MP_ERR("-0.5", NULL, AT(0, flt));
	J2MP_ERR("1e5", NULL, AT(0, flt));
	J2MP_ERR("1E5", NULL, AT(0, flt));
	J2MP_ERR("1e-5", NULL, AT(0, flt));
	J2MP_ERR("0e0", NULL, AT(0, flt));
	J2MP_ERR("[7,-1e+2]", NULL, AT(3, flt));
	J2MP_ERR("01", NULL, AT(0, "numbers must not have leading zeros"));
	J2MP_ERR("00", NULL, AT(0, "numbers must not have leading zeros"));
	J2MP_ERR("-01", NULL, AT(0, "numbers must not have leading zeros"));
	J2MP_ERR("[1,007]", NULL,
	    AT(3, "numbers must not have leading zeros"));
	J2MP_ERR("-", NULL, AT(0, "expected a digit after '-'"));
	J2MP_ERR("-a", NULL, AT(0, "expected a digit after '-'"));
	J2MP_ERR("-.5", NULL, AT(0, "expected a digit after '-'"));
	J2MP_ERR("--1", NULL, AT(0, "expected a digit after '-'"));
	J2MP_ERR("+1", NULL, AT(0, "expected a value, found '+'"));
	J2MP_ERR(".5", NULL, AT(0, "expected a value, found '.'"));
	/* One past each end, and far past. */
	J2MP_ERR("18446744073709551616", NULL, AT(0, rng));
	J2MP_ERR("18446744073709551620", NULL, AT(0, rng));
	J2MP_ERR("184467440737095516150", NULL, AT(0, rng));
	J2MP_ERR("99999999999999999999", NULL, AT(0, rng));
	J2MP_ERR("[1,-9223372036854775809]", NULL, AT(3, rng));
	J2MP_ERR("-18446744073709551615", NULL, AT(0, rng));
	J2MP_ERR("-18446744073709551616", NULL, AT(0, rng));
	J2MP_ERR("100000000000000000000000000000000000000", NULL, AT(0, rng));
#undef AT
}

static void
test_j2mp_string_errors(void **state)
{
	(void)state;
	J2MP_ERR("\"abc", NULL, "json: at byte 4: unterminated string");
	J2MP_ERR("\"", NULL, "json: at byte 1: unterminated string");
	J2MP_ERR("\"ab\\", NULL, "json: at byte 3: unterminated string");
	J2MP_ERR("{\"a", NULL, "json: at byte 3: unterminated string");
	/* Raw control bytes. */
	J2MP_ERR("\"a\x01\"", NULL,
	    "json: at byte 2: control byte 0x01 in string (must be escaped)");
	J2MP_ERR("\"a\tb\"", NULL,
	    "json: at byte 2: control byte 0x09 in string (must be escaped)");
	J2MP_ERR("\"\n\"", NULL,
	    "json: at byte 1: control byte 0x0a in string (must be escaped)");
	J2MP_ERR("\"\x1f\"", NULL,
	    "json: at byte 1: control byte 0x1f in string (must be escaped)");
	J2MP_ERR_N("\"\0\"", 3, NULL,
	    "json: at byte 1: control byte 0x00 in string (must be escaped)");
	/* Bad escapes. */
	J2MP_ERR("\"\\x\"", NULL, "json: at byte 1: invalid escape '\\x'");
	J2MP_ERR("\"a\\'\"", NULL, "json: at byte 2: invalid escape '\\''");
	J2MP_ERR("\"\\U0041\"", NULL, "json: at byte 1: invalid escape '\\U'");
	J2MP_ERR("\"\\0\"", NULL, "json: at byte 1: invalid escape '\\0'");
	J2MP_ERR("\"\\\x01\"", NULL, "json: at byte 1: invalid escape '\\?'");
	J2MP_ERR("\"\\u12\"", NULL, "json: at byte 1: invalid \\u escape "
	    "(expected 4 hex digits)");
	J2MP_ERR("\"\\u12", NULL, "json: at byte 1: invalid \\u escape "
	    "(expected 4 hex digits)");
	J2MP_ERR("\"\\u12g4\"", NULL, "json: at byte 1: invalid \\u escape "
	    "(expected 4 hex digits)");
	J2MP_ERR("\"\\u-123\"", NULL, "json: at byte 1: invalid \\u escape "
	    "(expected 4 hex digits)");
	/* Surrogates. */
	J2MP_ERR("\"\\ud800\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\ud800", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\udbffx\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\udbff");
	J2MP_ERR("\"\\ud800\\u0041\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\ud800\\ud800\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\ud800\\n\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\ud800\\ude0\"", NULL,
	    "json: at byte 1: unpaired high surrogate \\ud800");
	J2MP_ERR("\"\\udc00\"", NULL,
	    "json: at byte 1: unpaired low surrogate \\udc00");
	J2MP_ERR("\"a\\uDFFF\"", NULL,
	    "json: at byte 2: unpaired low surrogate \\udfff");
	J2MP_ERR("\"\\ude00\\ud83d\"", NULL,
	    "json: at byte 1: unpaired low surrogate \\ude00");
	/* Invalid UTF-8 in the input. */
#define BADU8(s, at) J2MP_ERR(s, NULL, "json: at byte " #at \
	    ": invalid UTF-8 in string")
	BADU8("\"\x80\"", 1);			/* lone continuation */
	BADU8("\"a\xbf\"", 2);
	BADU8("\"\xc0\x80\"", 1);		/* overlong NUL */
	BADU8("\"\xc1\xbf\"", 1);		/* overlong 2-byte */
	BADU8("\"\xe0\x80\x80\"", 1);		/* overlong 3-byte */
	BADU8("\"\xe0\x9f\xbf\"", 1);
	BADU8("\"\xf0\x80\x80\x80\"", 1);	/* overlong 4-byte */
	BADU8("\"\xf0\x8f\xbf\xbf\"", 1);
	BADU8("\"\xed\xa0\x80\"", 1);		/* UTF-16 surrogate */
	BADU8("\"\xed\xbf\xbf\"", 1);
	BADU8("\"\xf4\x90\x80\x80\"", 1);	/* above U+10FFFF */
	BADU8("\"\xf5\x80\x80\x80\"", 1);
	BADU8("\"\xf8\x88\x80\x80\x80\"", 1);
	BADU8("\"\xfe\"", 1);
	BADU8("\"\xff\"", 1);
	BADU8("\"\xc3\"", 1);			/* truncated */
	BADU8("\"\xc3", 1);
	BADU8("\"\xe2\x82\"", 1);
	BADU8("\"\xf0\x9f\x98\"", 1);
	BADU8("\"\xf0\x9f\x98", 1);
	BADU8("\"\xc3" "a\"", 1);		/* not a continuation */
	BADU8("\"\xe2\x82" "a\"", 1);
	BADU8("{\"\xff\":1}", 2);		/* in a key */
#undef BADU8
}

static void
test_j2mp_duplicate_keys(void **state)
{
	(void)state;
	J2MP_ERR("{\"a\":1,\"a\":2}", NULL,
	    "json: at byte 7: duplicate key \"a\"");
	J2MP_ERR("{\"a\":1,\"b\":2,\"a\":3}", NULL,
	    "json: at byte 13: duplicate key \"a\"");
	/* Keys compare decoded. */
	J2MP_ERR("{\"a\":1,\"\\u0061\":2}", NULL,
	    "json: at byte 7: duplicate key \"a\"");
	J2MP_ERR("{\"\":1,\"\":2}", NULL,
	    "json: at byte 6: duplicate key \"\"");
	/* The key is shown safely and shortened. */
	J2MP_ERR("{\"a\\n\\\"\":1,\"a\\n\\\"\":2}", NULL,
	    "json: at byte 11: duplicate key \"a\\x0a\\x22\"");
	J2MP_ERR("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1,"
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":2}",
	    NULL, "json: at byte 58: duplicate key "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
	/* A duplicate in an inner object; the same key in two objects. */
	J2MP_ERR("{\"a\":{\"b\":1,\"b\":1}}", NULL,
	    "json: at byte 12: duplicate key \"b\"");
	J2MP("{\"a\":{\"a\":1},\"b\":{\"a\":2}}", NULL,
	    "82 a1 61 81 a1 61 01 a1 62 81 a1 61 02");
	/* Prefixes and NUL bytes make different keys. */
	J2MP("{\"a\":1,\"a\\u0000\":2,\"ab\":3}", NULL,
	    "83 a1 61 01 a2 61 00 02 a2 61 62 03");
	J2MP("{\"A\":1,\"a\":2}", NULL, "82 a1 41 01 a1 61 02");
	/* Non-ASCII keys are shown as they are. */
	J2MP_ERR("{\"\xc3\xa9\":1,\"\\u00e9\":2}", NULL,
	    "json: at byte 8: duplicate key \"\xc3\xa9\"");
}

static void
test_j2mp_bin_errors(void **state)
{
	static const char *const node[] = { "node", NULL };
	static const char *const fills[] = { "fills/*/0", NULL };
	static const char *const top[] = { "", NULL };
	static const char *const odd[] = { "a\"b", NULL };
	static const char *const any[] = { "*", NULL };
	char		*json, *want;

	(void)state;
	J2MP_ERR("{\"node\":\"abc\"}", node, "json: field \"node\": "
	    "not lowercase hex (odd number of digits)");
	J2MP_ERR("{\"node\":\"a\"}", node, "json: field \"node\": "
	    "not lowercase hex (odd number of digits)");
	J2MP_ERR("{\"node\":\"AB\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"aB\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"0g\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"zz\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"0x00\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"ab cd\"}", node, "json: field \"node\": "
	    "not lowercase hex (odd number of digits)");
	J2MP_ERR("{\"node\":\"ab  cd\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"\\u0000a\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"node\":\"\xc3\xa9\"}", node,
	    "json: field \"node\": not lowercase hex");
	J2MP_ERR("{\"fills\":[[\"ab\"],[\"AB\"]]}", fills,
	    "json: field \"fills/1/0\": not lowercase hex");
	J2MP_ERR("\"ABCD\"", top, "json: top-level value: not lowercase hex");
	J2MP_ERR("{\"a\\\"b\":\"x\"}", odd,
	    "json: field \"a\\x22b\": not lowercase hex (odd number of digits)");
	/* Long paths are shortened. */
	json = repeat("{\"", "a", 100, "\":\"AB\"}");
	want = repeat("json: field \"", "a", 92, "...\": not lowercase hex");
	J2MP_ERR(json, any, want);
	free(json);
	free(want);
}

static void
test_j2mp_err_handling(void **state)
{
	kx_buf_t	 out;
	char		 err[16];

	(void)state;
	kx_buf_init(&out);
	/* err may be NULL or empty. */
	assert_int_equal(kx_json_to_mp(&out, "[1,", 3, NULL, NULL, 0), -1);
	err[0] = 'X';
	assert_int_equal(kx_json_to_mp(&out, "[1,", 3, NULL, err, 0), -1);
	assert_int_equal(err[0], 'X');
	/* A short err is truncated and terminated. */
	assert_int_equal(kx_json_to_mp(&out, "[1,", 3, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "json: at byte 3");
	/* Success leaves err empty; output is appended after old content. */
	kx_buf_reset(&out);
	kx_buf_puts(&out, "AB");
	assert_int_equal(kx_json_to_mp(&out, "[1]", 3, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "AB\x91\x01", 4);
	/* The length need not reach a NUL, and stops the text. */
	kx_buf_reset(&out);
	assert_int_equal(kx_json_to_mp(&out, "123456", 2, NULL, err,
	    sizeof(err)), 0);
	assert_memory_equal(out.data, "\x0c", 1);
	/* NULL text with length 0 is empty input. */
	assert_int_equal(kx_json_to_mp(&out, NULL, 0, NULL, err,
	    sizeof(err)), -1);
	/* A buffer that already ran out of memory is refused. */
	kx_buf_reset(&out);
	out.oom = 1;
	assert_int_equal(kx_json_to_mp(&out, "1", 1, NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "json: out of me");
	kx_buf_free(&out);
}

/*
 * Out of memory while writing: a buffer so full that buf.c refuses every
 * append before trying to allocate (its size check fails), so each value
 * kind fails on its first write.  Nothing may leak (ASan build).
 */
static void
test_j2mp_oom(void **state)
{
	static const char *const node[] = { "node", NULL };
	static const char *const top[] = { "", NULL };
	static const char *const inputs[] = { "1", "-1", "true", "false",
	    "null", "\"abc\"", "[1]", "{\"a\":1}", "\"abcd\"" };
	kx_buf_t	 out;
	char		 err[160];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		kx_buf_init(&out);
		out.len = SIZE_MAX - 1;
		assert_int_equal(kx_json_to_mp(&out, inputs[i],
		    strlen(inputs[i]), i == 8 ? top : node, err, sizeof(err)),
		    -1);
		assert_string_equal(err, "json: out of memory");
		assert_int_equal(out.oom, 1);
		kx_buf_init(&out);
	}
	kx_buf_init(&out);
	out.len = SIZE_MAX - 1;
	assert_int_equal(kx_mp_to_json(&out, (const uint8_t *)"\x91\x01", 2),
	    -1);
	assert_int_equal(out.oom, 1);
	/* With no err to write to. */
	kx_buf_init(&out);
	assert_int_equal(kx_json_to_mp(&out, "{\"node\":\"A\"}", 14, node,
	    NULL, 0), -1);
	kx_buf_free(&out);
}

/*
 * msgpack -> JSON
 */

static void
test_m2j_ints(void **state)
{
	(void)state;
	M2J("00", "0");
	M2J("7f", "127");
	M2J("e0", "-32");
	M2J("ff", "-1");
	M2J("cc 00", "0");
	M2J("cc ff", "255");
	M2J("cd ff ff", "65535");
	M2J("ce ff ff ff ff", "4294967295");
	M2J("cf ff ff ff ff ff ff ff ff", "18446744073709551615");
	M2J("cf 00 00 00 00 00 00 00 01", "1");
	M2J("d0 80", "-128");
	M2J("d0 7f", "127");
	M2J("d0 ff", "-1");
	M2J("d1 80 00", "-32768");
	M2J("d1 7f ff", "32767");
	M2J("d2 80 00 00 00", "-2147483648");
	M2J("d2 7f ff ff ff", "2147483647");
	M2J("d3 80 00 00 00 00 00 00 00", "-9223372036854775808");
	M2J("d3 7f ff ff ff ff ff ff ff", "9223372036854775807");
	M2J("d3 ff ff ff ff ff ff ff ff", "-1");
}

static void
test_m2j_scalars(void **state)
{
	(void)state;
	M2J("c0", "null");
	M2J("c2", "false");
	M2J("c3", "true");
	M2J("ca 3f c0 00 00", "1.5");
	M2J("ca 3d cc cc cd", "0.10000000149011612");
	M2J("ca 7f c0 00 00", "null");		/* NaN */
	M2J("ca 7f 80 00 00", "null");		/* +Inf */
	M2J("ca ff 80 00 00", "null");		/* -Inf */
	M2J("cb 3f f8 00 00 00 00 00 00", "1.5");
	M2J("cb 3f b9 99 99 99 99 99 9a", "0.10000000000000001");
	M2J("cb 80 00 00 00 00 00 00 00", "-0");
	M2J("cb 44 80 f0 cf 06 4d d5 92", "1e+22");
	M2J("cb 00 00 00 00 00 00 00 01", "4.9406564584124654e-324");
	M2J("cb 7f f8 00 00 00 00 00 00", "null");
	M2J("cb 7f f0 00 00 00 00 00 00", "null");
	M2J("cb ff f0 00 00 00 00 00 00", "null");
}

static void
test_m2j_strings(void **state)
{
	uint8_t	*b;
	char	*want;
	size_t	 n;

	(void)state;
	M2J("a0", "\"\"");
	M2J("a3 61 62 63", "\"abc\"");
	M2J("d9 00", "\"\"");
	M2J("d9 02 68 69", "\"hi\"");
	M2J("da 00 02 68 69", "\"hi\"");
	M2J("db 00 00 00 02 68 69", "\"hi\"");
	/* Escapes. */
	M2J("a2 22 5c", "\"\\\"\\\\\"");
	M2J("a5 0a 09 08 0c 0d", "\"\\n\\t\\b\\f\\r\"");
	M2J("a4 00 01 1f 7f", "\"\\u0000\\u0001\\u001f\x7f\"");
	M2J("a1 2f", "\"/\"");
	/* Valid UTF-8 is copied raw. */
	M2J("a9 c3 a9 e2 82 ac f0 9f 98 80", "\"\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\"");
	/* Each byte of invalid UTF-8 becomes \ufffd. */
	M2J("a1 80", "\"\\ufffd\"");
	M2J("a2 c3 28", "\"\\ufffd(\"");
	M2J("a2 c0 80", "\"\\ufffd\\ufffd\"");
	M2J("a3 ed a0 80", "\"\\ufffd\\ufffd\\ufffd\"");
	M2J("a4 f4 90 80 80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	M2J("a3 61 e2 82", "\"a\\ufffd\\ufffd\"");
	M2J("a2 ff 61", "\"\\ufffda\"");
	/* A long str16. */
	n = 3 + 300;
	b = malloc(n);
	assert_non_null(b);
	memcpy(b, "\xda\x01\x2c", 3);
	memset(b + 3, 'x', 300);
	want = repeat("\"", "x", 300, "\"");
	m2j_bytes_ok(b, n, want, __FILE__, __LINE__);
	free(want);
	free(b);
}

static void
test_m2j_bin_ext(void **state)
{
	(void)state;
	M2J("c4 00", "\"\"");
	M2J("c4 02 00 ff", "\"00ff\"");
	M2J("c5 00 02 ab cd", "\"abcd\"");
	M2J("c6 00 00 00 02 ab cd", "\"abcd\"");
	M2J("d4 01 ab", "{\"ext\":1,\"hex\":\"ab\"}");
	M2J("d5 ff ab cd", "{\"ext\":-1,\"hex\":\"abcd\"}");
	M2J("d6 7f 00 01 02 03", "{\"ext\":127,\"hex\":\"00010203\"}");
	M2J("d7 80 00 01 02 03 04 05 06 07",
	    "{\"ext\":-128,\"hex\":\"0001020304050607\"}");
	M2J("d8 05 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
	    "{\"ext\":5,\"hex\":\"000102030405060708090a0b0c0d0e0f\"}");
	M2J("c7 00 05", "{\"ext\":5,\"hex\":\"\"}");
	M2J("c7 02 05 ab cd", "{\"ext\":5,\"hex\":\"abcd\"}");
	M2J("c8 00 01 05 ab", "{\"ext\":5,\"hex\":\"ab\"}");
	M2J("c9 00 00 00 01 fe ab", "{\"ext\":-2,\"hex\":\"ab\"}");
}

static void
test_m2j_containers(void **state)
{
	uint8_t	 b[64];
	size_t	 i;

	(void)state;
	M2J("90", "[]");
	M2J("80", "{}");
	M2J("93 01 a1 78 c0", "[1,\"x\",null]");
	M2J("dc 00 00", "[]");
	M2J("dc 00 02 01 02", "[1,2]");
	M2J("dd 00 00 00 02 01 02", "[1,2]");
	M2J("81 a1 61 01", "{\"a\":1}");
	M2J("de 00 01 a1 61 01", "{\"a\":1}");
	M2J("df 00 00 00 01 a1 61 01", "{\"a\":1}");
	M2J("82 a1 61 91 90 a1 62 81 a0 80", "{\"a\":[[]],\"b\":{\"\":{}}}");
	/* Keys of other types print as strings of their JSON form. */
	M2J("81 01 02", "{\"1\":2}");
	M2J("81 ff 02", "{\"-1\":2}");
	M2J("81 c0 01", "{\"null\":1}");
	M2J("82 c3 01 c2 02", "{\"true\":1,\"false\":2}");
	M2J("81 cb 3f f8 00 00 00 00 00 00 01", "{\"1.5\":1}");
	M2J("81 c4 02 ab cd 01", "{\"abcd\":1}");
	M2J("81 91 c4 02 ab cd 01", "{\"[\\\"abcd\\\"]\":1}");
	M2J("81 92 01 a1 61 01", "{\"[1,\\\"a\\\"]\":1}");
	M2J("81 81 a1 6b a1 76 01", "{\"{\\\"k\\\":\\\"v\\\"}\":1}");
	M2J("81 91 a2 5c 0a 01", "{\"[\\\"\\\\\\\\\\\\n\\\"]\":1}");
	M2J("81 d4 01 ab 01", "{\"{\\\"ext\\\":1,\\\"hex\\\":\\\"ab\\\"}\":1}");
	/* A key inside a key: each level escapes once more. */
	M2J("81 81 81 01 a1 22 c0 c0",
	    "{\"{\\\"{\\\\\\\"1\\\\\\\":\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\"}"
	    "\\\":null}\":null}");
	/* KX_MP_MAX_KEY_NEST levels of keys in keys are fine, one more not. */
	for (i = 0; i < 4; i++)
		b[i] = 0x81;
	b[4] = 0x90;
	for (i = 5; i < 9; i++)
		b[i] = 0xc0;
	m2j_bytes_ok(b, 9, "{\"{\\\"{\\\\\\\"{\\\\\\\\\\\\\\\"[]"
	    "\\\\\\\\\\\\\\\":null}\\\\\\\":null}\\\":null}\":null}",
	    __FILE__, __LINE__);
	for (i = 0; i < 5; i++)
		b[i] = 0x81;
	b[5] = 0x90;
	for (i = 6; i < 11; i++)
		b[i] = 0xc0;
	m2j_bytes_err(b, 11, __FILE__, __LINE__);
}

static void
test_m2j_depth(void **state)
{
	uint8_t	 b[200];
	char	*want, *t;
	size_t	 i;

	(void)state;
	/* 64 levels are fine, 65 are not. */
	memset(b, 0x91, 63);
	b[63] = 0x90;
	t = repeat("", "[", 64, "");
	want = repeat(t, "]", 64, "");
	m2j_bytes_ok(b, 64, want, __FILE__, __LINE__);
	free(t);
	free(want);
	memset(b, 0x91, 64);
	b[64] = 0x90;
	m2j_bytes_err(b, 65, __FILE__, __LINE__);
	memset(b, 0x81, sizeof(b));
	m2j_bytes_err(b, sizeof(b), __FILE__, __LINE__);
	/* Maps nested through their values: 64 fine, 65 not. */
	for (i = 0; i < 64; i++) {
		b[2 * i] = 0x81;
		b[2 * i + 1] = 0xa0;
	}
	b[128] = 0xc0;
	t = repeat("", "{\"\":", 64, "null");
	want = repeat(t, "}", 64, "");
	m2j_bytes_ok(b, 129, want, __FILE__, __LINE__);
	free(t);
	free(want);
	b[128] = 0x80;
	m2j_bytes_err(b, 129, __FILE__, __LINE__);
	memset(b, 0xdc, sizeof(b));
	m2j_bytes_err(b, sizeof(b), __FILE__, __LINE__);
}

static void
test_m2j_malformed(void **state)
{
	kx_buf_t	 out;

	(void)state;
	kx_buf_init(&out);
	assert_int_equal(kx_mp_to_json(&out, NULL, 0), -1);
	kx_buf_free(&out);
	M2J_ERR("");
	M2J_ERR("c1");
	M2J_ERR("91 c1");
	/* Truncated fixed-size values. */
	M2J_ERR("cc");
	M2J_ERR("cd 00");
	M2J_ERR("ce 00 00 00");
	M2J_ERR("cf 00 00 00 00 00 00 00");
	M2J_ERR("d0");
	M2J_ERR("d1 00");
	M2J_ERR("d2 00 00 00");
	M2J_ERR("d3 00 00 00 00 00 00 00");
	M2J_ERR("ca 00 00 00");
	M2J_ERR("cb 00 00 00 00 00 00 00");
	/* Truncated lengths and bodies. */
	M2J_ERR("a1");
	M2J_ERR("a3 61 62");
	M2J_ERR("d9");
	M2J_ERR("d9 05 61 62");
	M2J_ERR("da 00");
	M2J_ERR("db 00 00 00 05 61");
	M2J_ERR("db ff ff ff ff");
	M2J_ERR("c4");
	M2J_ERR("c4 05 00");
	M2J_ERR("c5 01");
	M2J_ERR("c6 00 00 01 00 ab");
	M2J_ERR("c7");
	M2J_ERR("c7 01");
	M2J_ERR("c7 01 05");
	M2J_ERR("c8 00 01 05");
	M2J_ERR("c9 00 00 00 01 05");
	M2J_ERR("d4");
	M2J_ERR("d4 01");
	M2J_ERR("d5 01 ab");
	M2J_ERR("d8 01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e");
	/* Containers short of elements, huge claimed counts. */
	M2J_ERR("91");
	M2J_ERR("92 01");
	M2J_ERR("81 a1 61");
	M2J_ERR("81");
	M2J_ERR("82 01 02 03");
	M2J_ERR("dc 00");
	M2J_ERR("dc 00 01");
	M2J_ERR("dd 00 00 00");
	M2J_ERR("dd ff ff ff ff");
	M2J_ERR("dd ff ff ff ff 01 02 03");
	M2J_ERR("de ff ff");
	M2J_ERR("de ff");
	M2J_ERR("df 00 00");
	M2J_ERR("dc ff");
	M2J_ERR("dd 00");
	M2J_ERR("81 a3 61");
	M2J_ERR("81 c4 03 61");
	M2J_ERR("df ff ff ff ff 01 02");
	M2J_ERR("df ff ff ff ff c0");
	/* Trailing bytes. */
	M2J_ERR("00 00");
	M2J_ERR("c0 c0");
	M2J_ERR("90 90");
	M2J_ERR("a1 61 62");
	M2J_ERR("91 01 02");
}

static void
test_m2j_append(void **state)
{
	kx_buf_t	 out;

	(void)state;
	kx_buf_init(&out);
	kx_buf_puts(&out, "x=");
	assert_int_equal(kx_mp_to_json(&out, (const uint8_t *)"\x92\x01\xc0",
	    3), 0);
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.data, "x=[1,null]", 10);
	/* A buffer that already ran out of memory is refused. */
	out.oom = 1;
	assert_int_equal(kx_mp_to_json(&out, (const uint8_t *)"\xc0", 1), -1);
	kx_buf_free(&out);
}

/*
 * Round trips
 */

static void
test_round_trip(void **state)
{
	static const char *const bins[] = { "node", "in/*", NULL };

	(void)state;
	ROUND("{\"slot\":1800,\"side\":\"sell\",\"steps\":[[1000,900],"
	    "[500,1200]]}", NULL);
	ROUND("{\"node\":\"00112233445566778899aabbccddeeff00112233445566778899"
	    "aabbccddeeff\",\"role\":\"household\"}", bins);
	ROUND("{\"in\":[\"ab\",\"\",\"0123\"],\"node\":\"ff\",\"x\":\"ab\"}",
	    bins);
	ROUND("[18446744073709551615,-9223372036854775808,0,-1,127,128,-32,"
	    "-33,65535,65536]", NULL);
	ROUND("\"\\u0000\\n\\t\\\"\\\\/\xc3\xa9\xf0\x9f\x98\x80\x7f\"", NULL);
	ROUND("{\"\":null,\"a\":[true,false,{},[]],\"b\":{\"c\":{\"d\":1}}}",
	    NULL);
	ROUND("[]", NULL);
	ROUND("{}", NULL);
	ROUND("null", NULL);
	ROUND("\"\"", NULL);
	ROUND("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	    NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_j2mp_literals),
		cmocka_unit_test(test_j2mp_integers),
		cmocka_unit_test(test_j2mp_strings),
		cmocka_unit_test(test_j2mp_containers),
		cmocka_unit_test(test_j2mp_big_containers),
		cmocka_unit_test(test_j2mp_depth),
		cmocka_unit_test(test_j2mp_bin_paths),
		cmocka_unit_test(test_j2mp_syntax_errors),
		cmocka_unit_test(test_j2mp_number_errors),
		cmocka_unit_test(test_j2mp_string_errors),
		cmocka_unit_test(test_j2mp_duplicate_keys),
		cmocka_unit_test(test_j2mp_bin_errors),
		cmocka_unit_test(test_j2mp_err_handling),
		cmocka_unit_test(test_j2mp_oom),
		cmocka_unit_test(test_m2j_ints),
		cmocka_unit_test(test_m2j_scalars),
		cmocka_unit_test(test_m2j_strings),
		cmocka_unit_test(test_m2j_bin_ext),
		cmocka_unit_test(test_m2j_containers),
		cmocka_unit_test(test_m2j_depth),
		cmocka_unit_test(test_m2j_malformed),
		cmocka_unit_test(test_m2j_append),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
