/*
 * test_sim_netscript.c - the script of `kaga-sim net` (sim/netscript.h):
 * the defaults, a script with every action parsed to the exact events,
 * keys after the events, CRLF and a byte order mark, the time syntax
 * (up to 3 decimals, no exponent, no overflow), every refusal naming its
 * file and line (and the earlier line that explains it), the limits
 * (line and file length, event count, control bytes), kx_netscript_format
 * round trips and its node ranges, and small error buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/netscript.h"

/* ---- helpers ------------------------------------------------------- */

static int
parse(kx_netscript_t *s, const char *text, char *err, size_t errlen)
{
	return kx_netscript_parse(s, text, strlen(text), "f.txt", err, errlen);
}

/* Parses text, which must be accepted. */
static void
good(kx_netscript_t *s, const char *text)
{
	char	 err[KX_NET_ERR_MAX] = "";
	int	 rc;

	rc = parse(s, text, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "refused: %s\n", err);
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
}

/* Parses text, which must be refused with msg in the message. */
static void
bad(const char *text, const char *msg)
{
	kx_netscript_t	 s;
	char		 err[KX_NET_ERR_MAX] = "";
	int		 rc;

	rc = parse(&s, text, err, sizeof(err));
	if (rc != -1 || strstr(err, msg) == NULL)
		fprintf(stderr, "text '%s': rc %d, '%s' (expected '%s')\n",
		    text, rc, err, msg);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, msg));
	assert_null(strchr(err, '\n'));
	assert_true(strncmp(err, "f.txt:", 6) == 0);
}

static void
assert_event(const kx_net_event_t *ev, uint32_t at_ms,
    kx_net_action_t action, uint64_t lo, uint64_t hi, uint32_t line)
{
	assert_int_equal(ev->at_ms, at_ms);
	assert_int_equal(ev->action, action);
	assert_true(ev->nodes[0] == lo);
	assert_true(ev->nodes[1] == hi);
	assert_int_equal(ev->line, line);
}

#define BIT(i)	((uint64_t)1 << (i))

/* Writes s, parses it back and compares: equal but for the lines. */
static void
round_trip(const kx_netscript_t *s)
{
	kx_netscript_t	 a, b;
	char		 err[KX_NET_ERR_MAX] = "", *txt;
	size_t		 n, i;

	n = kx_netscript_format(s, NULL, 0);
	txt = malloc(n + 1);
	assert_non_null(txt);
	assert_int_equal(kx_netscript_format(s, txt, n + 1), n);
	assert_int_equal(strlen(txt), n);
	if (kx_netscript_parse(&b, txt, n, "rt", err, sizeof(err)) != 0)
		fprintf(stderr, "%s\n%s", err, txt);
	assert_int_equal(kx_netscript_parse(&b, txt, n, "rt", err,
	    sizeof(err)), 0);
	memcpy(&a, s, sizeof(a));
	for (i = 0; i < KX_NET_EVENTS_MAX; i++)
		a.ev[i].line = b.ev[i].line = 0;
	assert_memory_equal(&a, &b, sizeof(a));
	free(txt);
}

/* ---- tests --------------------------------------------------------- */

static void
t_defaults(void **state)
{
	kx_netscript_t	 a, b;
	kx_net_event_t	 ev;
	char		 err[KX_NET_ERR_MAX], nm[8];

	(void)state;
	kx_netscript_default(&a);
	assert_int_equal(a.members, 8);
	assert_int_equal(a.late, 0);
	assert_int_equal(a.slots, 8);
	assert_int_equal(a.slot_s, 10);
	assert_int_equal(a.gate_s, 3);
	assert_int_equal(a.degree, 3);
	assert_int_equal(a.gossip_ms, 250);
	assert_true(a.seed == 1);
	assert_int_equal(a.nev, 0);
	assert_int_equal(parse(&b, "", err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(kx_netscript_parse(&b, NULL, 0, "f.txt", err,
	    sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	good(&b, "# nothing but comments\n\n   \t\n  # indented\n");
	assert_memory_equal(&a, &b, sizeof(a));
	round_trip(&a);

	kx_netscript_name(0, nm, sizeof(nm));
	assert_string_equal(nm, "op");
	kx_netscript_name(1, nm, sizeof(nm));
	assert_string_equal(nm, "m1");
	kx_netscript_name(64, nm, sizeof(nm));
	assert_string_equal(nm, "m64");
	kx_netscript_name(64, nm, 3);
	assert_string_equal(nm, "m6");
	memset(&ev, 0, sizeof(ev));
	ev.nodes[0] = BIT(0) | BIT(63);
	ev.nodes[1] = BIT(0);
	assert_true(kx_netscript_has(&ev, 0));
	assert_false(kx_netscript_has(&ev, 1));
	assert_true(kx_netscript_has(&ev, 63));
	assert_true(kx_netscript_has(&ev, 64));
	assert_false(kx_netscript_has(&ev, 65));
	assert_false(kx_netscript_has(&ev, -1));
	assert_false(kx_netscript_has(&ev, 128));
}

static const char full[] =
    "# every action\n"				/* 1 */
    "members 6\n"
    "late 3            # m7 m8 m9\n"
    "slots 12\n"
    "slot-s 10\n"				/* 5 */
    "gate-s 3\n"
    "degree 2\n"
    "gossip-ms 100\n"
    "seed 18446744073709551615\n"
    "at 5 stop m2\n"				/* 10 */
    "at 7.5 kill m3 op\n"
    "\tat   12  start\tm2-m3 op   \n"
    "at 20 join m7 m9\n"
    "at 30 partition op m1-m3 m9 # op's side\n"
    "at 45.25 heal\n"				/* 15 */
    "at 45.25 kill m7\n"
    "at 50 join m8\n"
    "at 60 start m7\n"
    "at 149.999 stop m1-m9 op\n";

static void
t_full(void **state)
{
	kx_netscript_t	 s;

	(void)state;
	good(&s, full);
	assert_int_equal(s.members, 6);
	assert_int_equal(s.late, 3);
	assert_int_equal(s.slots, 12);
	assert_int_equal(s.slot_s, 10);
	assert_int_equal(s.gate_s, 3);
	assert_int_equal(s.degree, 2);
	assert_int_equal(s.gossip_ms, 100);
	assert_true(s.seed == UINT64_MAX);
	assert_int_equal(s.nev, 10);
	assert_event(&s.ev[0], 5000, KX_NET_STOP, BIT(2), 0, 10);
	assert_event(&s.ev[1], 7500, KX_NET_KILL, BIT(0) | BIT(3), 0, 11);
	assert_event(&s.ev[2], 12000, KX_NET_START,
	    BIT(0) | BIT(2) | BIT(3), 0, 12);
	assert_event(&s.ev[3], 20000, KX_NET_JOIN, BIT(7) | BIT(9), 0, 13);
	assert_event(&s.ev[4], 30000, KX_NET_PARTITION,
	    BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(9), 0, 14);
	assert_event(&s.ev[5], 45250, KX_NET_HEAL, 0, 0, 15);
	assert_event(&s.ev[6], 45250, KX_NET_KILL, BIT(7), 0, 16);
	assert_event(&s.ev[7], 50000, KX_NET_JOIN, BIT(8), 0, 17);
	assert_event(&s.ev[8], 60000, KX_NET_START, BIT(7), 0, 18);
	assert_event(&s.ev[9], 149999, KX_NET_STOP, 0x3ff, 0, 19);
	round_trip(&s);
	/* the unused events stay zero */
	assert_true(s.ev[10].at_ms == 0 && s.ev[10].action == 0 &&
	    s.ev[10].line == 0);
}

static void
t_keys_after_events(void **state)
{
	kx_netscript_t	 s;

	(void)state;
	/* m12 and 215 s exist only once the keys below are read */
	good(&s,
	    "at 100 join m11-m12\n"
	    "at 215 partition m11-m12\n"
	    "at 216 heal\n"
	    "members 10\n"
	    "late 2\n"
	    "slots 20\n");
	assert_int_equal(s.members, 10);
	assert_int_equal(s.late, 2);
	assert_int_equal(s.slots, 20);
	assert_int_equal(s.nev, 3);
	assert_event(&s.ev[0], 100000, KX_NET_JOIN, BIT(11) | BIT(12), 0,
	    1);
	assert_event(&s.ev[1], 215000, KX_NET_PARTITION, BIT(11) | BIT(12),
	    0, 2);
	/* ... and the refusals name the event's line, not the key's */
	bad("at 100 join m12\nmembers 10\nlate 1\n",
	    "f.txt:1: join m12: no such member (members 10 + late 1: "
	    "m1..m11)");
	bad("at 215 stop m1\n\nslots 18\n",
	    "f.txt:1: at 215: not before the end of the run at 210 s "
	    "(slots 18 x slot-s 10 + 30)");
	bad("at 5 join m9\nlate 0\n", "f.txt:1: join m9: no such member");
	bad("at 5 join m9\nlate 1\nmembers 9\n",
	    "f.txt:1: join m9: m9 is an initial member (m1..m9 run from the "
	    "start)");
}

static void
t_crlf_bom(void **state)
{
	kx_netscript_t	 s;
	char		 err[KX_NET_ERR_MAX];

	(void)state;
	good(&s, "\xef\xbb\xbf" "members 4\r\n\r\n# c\r\nat 1 kill m4\r\n"
	    "at 2 start m4 # \xe5\x8a\xa0\xe8\xb3\x80\r\n"
	    "late 1\r");
	assert_int_equal(s.members, 4);
	assert_int_equal(s.late, 1);
	assert_int_equal(s.nev, 2);
	assert_event(&s.ev[0], 1000, KX_NET_KILL, BIT(4), 0, 4);
	assert_event(&s.ev[1], 2000, KX_NET_START, BIT(4), 0, 5);
	/* a byte order mark elsewhere is not one */
	bad("members 4\n\xef\xbb\xbfslots 3\n", "f.txt:2: unknown key '???");
	/* a CR in the middle of a line is a control byte */
	bad("members\r4\n", "f.txt:1: control character 0x0d in column 8");
	/* the message of a refusal counts the BOM's line as line 1 */
	assert_int_equal(parse(&s, "\xef\xbb\xbfmembers 0\r\n", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "f.txt:1: members: expected an integer "
	    "from 1 to 64, got '0'"));
}

static void
t_times(void **state)
{
	static const struct {
		const char	*t;
		uint32_t	 ms;
	} ok[] = {
		{ "0", 0 }, { "0.0", 0 }, { "12", 12000 }, { "12.5", 12500 },
		{ "0.250", 250 }, { "12.345", 12345 }, { "0.001", 1 },
		{ "007", 7000 }, { "4000000", 4000000000u },
	};
	static const char *const no[] = {
		"12.3456", "1e3", "12.", ".5", "-1", "+1", "1,5", "1.2.3",
		"0x10", "4000000.001", "4000001", "4294967.296",
		"18446744073709551616", "99999999999999999999999999",
		"18446744073709551615.999", "12s", "1.-5",
	};
	kx_netscript_t	 s;
	char		 text[128], err[KX_NET_ERR_MAX];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "slots 10000\nslot-s 3600\n"
		    "at %s stop m1\n", ok[i].t);
		good(&s, text);
		assert_int_equal(s.nev, 1);
		assert_int_equal(s.ev[0].at_ms, ok[i].ms);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "slots 10000\nslot-s 3600\n"
		    "at %s stop m1\n", no[i]);
		assert_int_equal(parse(&s, text, err, sizeof(err)), -1);
		if (strstr(err, "f.txt:3: at: expected a time") == NULL)
			fprintf(stderr, "'%s': %s\n", no[i], err);
		assert_non_null(strstr(err, "f.txt:3: at: expected a time"));
	}
	/* the end of the run: slots x slot-s + 30 s, exclusive */
	good(&s, "at 109.999 stop m1\n");
	bad("at 110 stop m1\n", "f.txt:1: at 110: not before the end of the "
	    "run at 110 s (slots 8 x slot-s 10 + 30)");
	/* equal times are in order, earlier ones are not */
	good(&s, "at 3 stop m1\nat 3 start m1\n");
	bad("at 10 stop m1\n# x\nat 9.5 start m1\n", "f.txt:3: at 9.5: before "
	    "the event on line 1 (at 10); events must come in time order");
}

static void
t_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*msg;	/* a part of the message */
	} c[] = {
		/* keys */
		{ "members 8\n\nmembers 9\n",
		    "f.txt:3: members: set twice (first on line 1)" },
		{ "seed 1\nat 1 stop m1\nseed 1\n",
		    "f.txt:3: seed: set twice (first on line 1)" },
		{ "\nfoo 1\n", "f.txt:2: unknown key 'foo'" },
		{ "Members 8\n", "f.txt:1: unknown key 'Members'" },
		{ "members=8\n", "f.txt:1: unknown key 'members=8'" },
		{ "slots\n", "f.txt:1: slots: no value" },
		{ "slots # 8\n", "f.txt:1: slots: no value" },
		{ "slots 8 9\n", "f.txt:1: slots: one value expected, then the "
		    "end of the line or a # comment; got '9'" },
		{ "members 0\n", "f.txt:1: members: expected an integer from 1 "
		    "to 64, got '0'" },
		{ "members 65\n", "f.txt:1: members: expected" },
		{ "members -1\n", "f.txt:1: members: expected" },
		{ "members +1\n", "f.txt:1: members: expected" },
		{ "members 0x10\n", "f.txt:1: members: expected" },
		{ "members 8#x\n", "got '8#x'" },
		{ "late 64\n", "f.txt:1: late: expected an integer from 0 to "
		    "63" },
		{ "slots 0\n", "f.txt:1: slots: expected an integer from 1 to "
		    "10000" },
		{ "slots 10001\n", "f.txt:1: slots:" },
		{ "slot-s 3\n", "f.txt:1: slot-s: expected an integer from 4 "
		    "to 3600" },
		{ "slot-s 3601\n", "f.txt:1: slot-s:" },
		{ "gate-s 0\n", "f.txt:1: gate-s:" },
		{ "degree 0\n", "f.txt:1: degree: expected an integer from 1 "
		    "to 16" },
		{ "degree 17\n", "f.txt:1: degree:" },
		{ "gossip-ms 49\n", "f.txt:1: gossip-ms: expected an integer "
		    "from 50 to 10000" },
		{ "gossip-ms 10001\n", "f.txt:1: gossip-ms:" },
		{ "seed 18446744073709551616\n", "f.txt:1: seed: expected an "
		    "integer from 0 to 18446744073709551615" },
		{ "members 4294967297\n", "f.txt:1: members:" },
		/* keys against each other, on the later key's line */
		{ "members 60\nlate 5\n", "f.txt:2: members 60 + late 5: 65 "
		    "members, at most 64" },
		{ "late 5\n\nmembers 60\n", "f.txt:3: members 60 + late 5" },
		{ "gate-s 10\n", "f.txt:1: gate-s 10 must be below slot-s (10, "
		    "default)" },
		{ "gate-s 5\nslot-s 5\n", "f.txt:2: gate-s 5 must be below "
		    "slot-s (5, line 2)" },
		{ "slot-s 4\ngate-s 4\n", "f.txt:2: gate-s 4 must be below "
		    "slot-s (4, line 1)" },
		/* event syntax */
		{ "at\n", "f.txt:1: at: expected 'at TIME ACTION [NODES...]'" },
		{ "\nat 5\n", "f.txt:2: at 5: no action" },
		{ "at 5 jump m1\n", "f.txt:1: at 5: unknown action 'jump'" },
		{ "at 5 STOP m1\n", "f.txt:1: at 5: unknown action 'STOP'" },
		{ "at 5 stop\n", "f.txt:1: stop: needs at least one node" },
		{ "at 5 kill # m1\n", "f.txt:1: kill: needs at least one "
		    "node" },
		{ "at 5 start\n", "f.txt:1: start: needs at least one node" },
		{ "at 5 join\n", "f.txt:1: join: needs at least one node" },
		{ "at 5 partition\n", "f.txt:1: partition: needs at least one "
		    "node" },
		{ "at 5 heal m1\n", "f.txt:1: heal: takes no nodes, got 'm1'" },
		{ "at 5 stop x1\n", "f.txt:1: stop: expected op, mK or mJ-mK, "
		    "got 'x1'" },
		{ "at 5 stop m01\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop m\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop m1-\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop -m1\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop m1-m2-m3\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop op-m2\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop m1,m2\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop OP\n", "f.txt:1: stop: expected op" },
		{ "at 5 stop m0\n", "f.txt:1: stop m0: no such member (members "
		    "are m1..m64 at most)" },
		{ "at 5 stop m65\n", "f.txt:1: stop m65: no such member" },
		{ "at 5 stop m1-m99999999999999999999999\n",
		    "f.txt:1: stop: expected op" },
		{ "at 5 stop m1-m65\n", "f.txt:1: stop m1-m65: no such "
		    "member" },
		{ "at 5 stop m3-m1\n", "f.txt:1: stop m3-m1: a range must go "
		    "up (m1-m3)" },
		{ "at 5 stop m1 m1\n", "f.txt:1: stop: m1 listed twice" },
		{ "at 5 stop op m2 op\n", "f.txt:1: stop: op listed twice" },
		{ "at 5 stop m1-m3 m2\n", "f.txt:1: stop: m2 listed twice" },
		{ "at 5 partition m1-m3 m3-m4\n",
		    "f.txt:1: partition: m3 listed twice" },
		{ "late 1\nat 5 join op\n", "f.txt:2: join op: the operator is "
		    "there from the start" },
		/* nodes past members + late (checked at the end) */
		{ "at 5 stop m9\n", "f.txt:1: stop m9: no such member (members "
		    "8 + late 0: m1..m8)" },
		{ "late 2\nat 5 start m1-m11\n", "f.txt:2: start m11: no such "
		    "member (members 8 + late 2: m1..m10)" },
		/* states */
		{ "at 1 start m3\n", "f.txt:1: start m3: m3 is running "
		    "(running from the start)" },
		{ "at 1 stop m3\nat 2 start m3\nat 3 start m3\n",
		    "f.txt:3: start m3: m3 is running (started on line 2)" },
		{ "late 1\nat 1 join m9\nat 2 start m9\n",
		    "f.txt:3: start m9: m9 is running (joined on line 2)" },
		{ "at 1 start op\n", "f.txt:1: start op: op is running" },
		{ "at 1 kill m3\nat 2 stop m3\n",
		    "f.txt:2: stop m3: m3 is not running (killed on line 1)" },
		{ "at 1 stop op\nat 2 kill op\n",
		    "f.txt:2: kill op: op is not running (stopped on line 1)" },
		{ "at 1 stop m1-m3\nat 2 start m1 m2\nat 3 stop m1-m3\n",
		    "f.txt:3: stop m3: m3 is not running (stopped on line 1)" },
		{ "late 2\nat 1 stop m9\n", "f.txt:2: stop m9: m9 has not "
		    "joined yet (a late member: join it first)" },
		{ "late 2\nat 1 kill m10\n", "f.txt:2: kill m10: m10 has not "
		    "joined yet" },
		{ "late 2\nat 1 start m9\n", "f.txt:2: start m9: m9 has not "
		    "joined yet" },
		{ "late 2\nat 1 join m9\nat 2 stop m9 m10\n",
		    "f.txt:3: stop m10: m10 has not joined yet" },
		{ "late 1\nat 1 join m3\n", "f.txt:2: join m3: m3 is an "
		    "initial member (m1..m8 run from the start); only late "
		    "members join" },
		{ "late 1\nat 1 join m9\nat 2 kill m9\nat 3 join m9\n",
		    "f.txt:4: join m9: m9 has joined already (killed on line "
		    "3)" },
		{ "late 1\nat 1 join m9\nat 2 join m9\n",
		    "f.txt:3: join m9: m9 has joined already (joined on line "
		    "2)" },
		/* partitions */
		{ "late 1\nat 1 partition m9\n", "f.txt:2: partition m9: m9 "
		    "has not joined yet" },
		{ "members 2\nat 1 partition op m1-m2\n", "f.txt:2: partition: "
		    "lists every node there is (3), so the other side would be "
		    "empty" },
		{ "members 2\nlate 1\nat 1 partition op m1 m2\n",
		    "f.txt:3: partition: lists every node there is (3)" },
		{ "members 2\nat 1 stop m1 m2\nat 2 partition op m1-m2\n",
		    "f.txt:3: partition: lists every node there is (3)" },
		{ "at 1 partition m1\nat 2 partition m2\n",
		    "f.txt:2: partition: a partition is in force already (line "
		    "1); heal it first" },
		{ "at 1 heal\n", "f.txt:1: heal: no partition is in force" },
		{ "at 1 partition op\nat 2 heal\nat 3 heal\n",
		    "f.txt:3: heal: no partition is in force (healed on line "
		    "2)" },
		/* bytes */
		{ "members 8\x01\n", "f.txt:1: control character 0x01 in "
		    "column 10" },
		{ "\n\n# \x1b[31m\n", "f.txt:3: control character 0x1b in "
		    "column 3" },
		{ "members 8\x7f\n", "f.txt:1: control character 0x7f" },
		{ "at 1\x0bstop m1\n", "f.txt:1: control character 0x0b" },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		bad(c[i].text, c[i].msg);
}

static void
t_limits(void **state)
{
	kx_netscript_t	 s;
	char		 err[KX_NET_ERR_MAX], *buf;
	size_t		 i, n, cap = KX_NET_FILE_MAX + 64;

	(void)state;
	buf = malloc(cap);
	assert_non_null(buf);

	/* a NUL byte */
	assert_int_equal(kx_netscript_parse(&s, "members 8\n\0", 11, "f.txt",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f.txt:2: control character 0x00 in "
	    "column 1"));
	assert_int_equal(kx_netscript_parse(&s, "at 1 stop m1\0m2\n", 16,
	    "f.txt", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "f.txt:1: control character 0x00 in "
	    "column 13"));

	/* lines: 1024 bytes (CR LF apart) are fine, 1025 are not */
	memset(buf, '#', 1024);
	memcpy(buf + 1024, "\r\n", 2);
	assert_int_equal(kx_netscript_parse(&s, buf, 1026, "f.txt", err,
	    sizeof(err)), 0);
	memcpy(buf + 1024, "#\n", 2);
	assert_int_equal(kx_netscript_parse(&s, buf, 1026, "f.txt", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "f.txt:1: line longer than 1024 bytes"));
	memcpy(buf, "\n\n", 2);
	assert_int_equal(kx_netscript_parse(&s, buf, 1025, "f.txt", err,
	    sizeof(err)), 0);
	assert_int_equal(kx_netscript_parse(&s, buf, 1026, "f.txt", err,
	    sizeof(err)), 0);	/* 1023 # and a newline: line 3 */

	/* the file: KX_NET_FILE_MAX bytes are fine, one more is not */
	for (i = 0; i + 100 <= cap; i += 100) {
		memset(buf + i, '#', 99);
		buf[i + 99] = '\n';
	}
	assert_int_equal(kx_netscript_parse(&s, buf, KX_NET_FILE_MAX, "f.txt",
	    err, sizeof(err)), 0);
	assert_int_equal(kx_netscript_parse(&s, buf, KX_NET_FILE_MAX + 1,
	    "f.txt", err, sizeof(err)), -1);
	/* byte 65536 is on line 656 (100 bytes a line) */
	assert_non_null(strstr(err, "f.txt:656: the script is longer than "
	    "65536 bytes"));

	/* events: 256 fine, the 257th refused on its line */
	for (i = n = 0; i < KX_NET_EVENTS_MAX; i++)
		n += (size_t)snprintf(buf + n, cap - n, "at 1 %s\n",
		    i % 2 == 0 ? "partition m1" : "heal");
	assert_int_equal(kx_netscript_parse(&s, buf, n, "f.txt", err,
	    sizeof(err)), 0);
	assert_int_equal(s.nev, KX_NET_EVENTS_MAX);
	assert_event(&s.ev[255], 1000, KX_NET_HEAL, 0, 0, 256);
	round_trip(&s);
	n += (size_t)snprintf(buf + n, cap - n, "at 2 stop m1\n");
	assert_int_equal(kx_netscript_parse(&s, buf, n, "f.txt", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "f.txt:257: more than 256 events"));
	free(buf);

	/* every member */
	good(&s, "members 1\nlate 63\nat 1 join m2-m64\n"
	    "at 2 partition m64\nat 3 kill op m1-m64\n");
	assert_event(&s.ev[0], 1000, KX_NET_JOIN, ~(uint64_t)3, 1, 3);
	assert_event(&s.ev[2], 3000, KX_NET_KILL, ~(uint64_t)0, 1, 5);
	round_trip(&s);
	good(&s, "members 64\nat 1 partition op\nat 1 heal\n");
	bad("members 64\nat 1 partition op m1-m64\n",
	    "f.txt:2: partition: lists every node there is (65)");
}

static void
t_format(void **state)
{
	static const char *const scripts[] = {
		"",
		full,
		"seed 0\nmembers 1\nlate 0\nslots 1\nslot-s 4\ngate-s 1\n"
		    "degree 16\ngossip-ms 10000\nat 0 stop op\nat 0.001 "
		    "start op\nat 33.999 kill m1\n",
		"members 20\nlate 10\nslots 10000\nslot-s 3600\n"
		    "at 1 join m21 m23 m25-m30\n"
		    "at 2 partition op m1 m2 m4-m6 m9 m10 m12 m14-m20 m30\n"
		    "at 2.5 kill m1-m20\nat 3 heal\nat 4000000 start m1-m20\n",
		"members 9\nlate 55\nat 0.01 join m64 m10-m12\n"
		    "at 0.1 partition m11-m12 m64\n",
	};
	kx_netscript_t	 s;
	char		 txt[1024], small[20];
	size_t		 i, n;

	(void)state;
	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		good(&s, scripts[i]);
		round_trip(&s);
	}

	/* the text itself: keys in order, sorted lists with ranges */
	good(&s, "members 10\nlate 2\nseed 7\nat 1.5 partition m10 m7 m1-m4 "
	    "m9 op\nat 2 heal\nat 2.050 join m12 m11\n");
	n = kx_netscript_format(&s, txt, sizeof(txt));
	assert_int_equal(n, strlen(txt));
	assert_string_equal(txt,
	    "# kaga-sim net script (docs/sim.md, \"Protocol mode\")\n"
	    "members 10\n"
	    "late 2\n"
	    "slots 8\n"
	    "slot-s 10\n"
	    "gate-s 3\n"
	    "degree 3\n"
	    "gossip-ms 250\n"
	    "seed 7\n"
	    "at 1.5 partition op m1-m4 m7 m9 m10\n"
	    "at 2 heal\n"
	    "at 2.05 join m11 m12\n");

	/* a short buffer: the needed length, a terminated prefix */
	assert_int_equal(kx_netscript_format(&s, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, txt, sizeof(small) - 1);
	assert_int_equal(kx_netscript_format(&s, small, 1), n);
	assert_string_equal(small, "");
	assert_int_equal(kx_netscript_format(&s, NULL, 0), n);
}

static void
t_errbuf(void **state)
{
	kx_netscript_t	 s;
	char		 err[KX_NET_ERR_MAX];

	(void)state;
	/* a small buffer is still a terminated string */
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse(&s, "foo 1", err, 8), -1);
	assert_int_equal(strlen(err), 7);
	assert_memory_equal(err, "f.txt:1", 7);
	assert_int_equal(err[8], 'x');	/* nothing written past errlen */
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse(&s, "at 1 start m1", err, 1), -1);
	assert_int_equal(err[0], '\0');
	assert_int_equal(err[1], 'x');
	assert_int_equal(parse(&s, "at 1 start m1", NULL, 0), -1);
	assert_int_equal(parse(&s, "at 1 start m1", err, 0), -1);

	/* a long message is cut, never longer than errlen */
	assert_int_equal(parse(&s, "at 1 stop m1\nat 2 kill m1\n", err, 30),
	    -1);
	assert_int_equal(strlen(err), 29);

	/* a long token is quoted shortly; a name of several lines, one */
	assert_int_equal(parse(&s, "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"
	    "opqrstuvwxyz 1\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key 'abcdefghijklmnopqrstuvwxyz"
	    "abcdef...'"));
	assert_int_equal(kx_netscript_parse(&s, "x", 1, "a\nb.txt", err,
	    sizeof(err)), -1);
	assert_null(strchr(err, '\n'));
	assert_true(strncmp(err, "a?b.txt:1: unknown key 'x'", 26) == 0);
	assert_int_equal(kx_netscript_parse(&s, "x", 1, NULL, err,
	    sizeof(err)), -1);
	assert_true(strncmp(err, "script:1: ", 10) == 0);
	assert_int_equal(kx_netscript_parse(&s, NULL, 3, "f.txt", err,
	    sizeof(err)), -1);
	assert_true(strncmp(err, "f.txt:1: ", 9) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_defaults),
		cmocka_unit_test(t_full),
		cmocka_unit_test(t_keys_after_events),
		cmocka_unit_test(t_crlf_bom),
		cmocka_unit_test(t_times),
		cmocka_unit_test(t_errors),
		cmocka_unit_test(t_limits),
		cmocka_unit_test(t_format),
		cmocka_unit_test(t_errbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
