/*
 * netscript.c - the script of a `kaga-sim net` run (netscript.h).
 *
 * Two passes over untrusted bytes. The first reads the lines: the keys
 * (each at most once, one table gives their ranges and defaults) and the
 * events (a time, an action, a node set), with every check one line can
 * make on its own. The second runs once the whole file is read, since
 * keys may follow the events: it checks the keys against each other,
 * then plays the events in order against the state of every node
 * (not joined yet, running, stopped) and of the partition, so that a
 * refusal names the event's line and the earlier line that explains it
 * ("start m3: m3 is running (started on line 2)").
 *
 * Times are integer milliseconds throughout (no floating point). No
 * allocation, no I/O, no global state.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "netscript.h"
#include "parsenum.h"

#define LINE_MAX_B	1024		/* bytes of a line, without CR LF */
#define TIME_MAX_S	4000000u	/* latest event, s (at_ms: 32 bits) */
#define END_GRACE_MS	30000u		/* events may come this long after
					   the last slot's end */
#define NODES		(KX_NET_MEMBERS_MAX + 1)	/* op and m1..m64 */

/* ---- keys ---------------------------------------------------------- */

enum {
	K_MEMBERS, K_LATE, K_SLOTS, K_SLOT_S, K_GATE_S, K_DEGREE,
	K_GOSSIP_MS, K_SEED, NKEYS
};

typedef struct {
	const char	*key;
	size_t		 off;		/* of the field in kx_netscript_t */
	bool		 wide;		/* a uint64_t, else a uint32_t */
	uint64_t	 min, max, def;
} nkey_t;

#define F(field)	offsetof(kx_netscript_t, field)

/* In the order of enum above and of kx_netscript_format's output. */
static const nkey_t keys[NKEYS] = {
	{ "members", F(members), false, 1, KX_NET_MEMBERS_MAX, 8 },
	{ "late", F(late), false, 0, KX_NET_MEMBERS_MAX - 1, 0 },
	{ "slots", F(slots), false, 1, 10000, 8 },
	{ "slot-s", F(slot_s), false, 4, 3600, 10 },
	{ "gate-s", F(gate_s), false, 1, 3600 - 1, 3 },
	{ "degree", F(degree), false, 1, 16, 3 },
	{ "gossip-ms", F(gossip_ms), false, 50, 10000, 250 },
	{ "seed", F(seed), true, 0, UINT64_MAX, 1 },
};

static const char *const actions[] = {
	NULL, "stop", "kill", "start", "join", "partition", "heal"
};
#define NACTIONS	(sizeof(actions) / sizeof(actions[0]))

static void
set_key(kx_netscript_t *s, const nkey_t *k, uint64_t v)
{
	char	*p = (char *)s + k->off;

	if (k->wide)
		memcpy(p, &v, sizeof(v));
	else {
		uint32_t v32 = (uint32_t)v;	/* max fits: checked */

		memcpy(p, &v32, sizeof(v32));
	}
}

static uint64_t
get_key(const kx_netscript_t *s, const nkey_t *k)
{
	const char	*p = (const char *)s + k->off;
	uint64_t	 v;
	uint32_t	 v32;

	if (k->wide) {
		memcpy(&v, p, sizeof(v));
		return v;
	}
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

void
kx_netscript_default(kx_netscript_t *s)
{
	size_t	 i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NKEYS; i++)
		set_key(s, &keys[i], keys[i].def);
}

/* ---- nodes --------------------------------------------------------- */

void
kx_netscript_name(int i, char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return;
	if (i == KX_NET_OP)
		snprintf(out, outlen, "op");
	else
		snprintf(out, outlen, "m%d", i);
}

int
kx_netscript_has(const kx_net_event_t *ev, int i)
{
	if (i < 0 || i >= 128)
		return 0;
	return (int)((ev->nodes[i / 64] >> (i % 64)) & 1);
}

static void
set_node(kx_net_event_t *ev, int i)
{
	ev->nodes[i / 64] |= (uint64_t)1 << (i % 64);
}

/* ---- messages ------------------------------------------------------ */

typedef struct {
	const char	*fname;
	char		*err;
	size_t		 errlen;
} ectx_t;

/*
 * Writes "FNAME:LINE: " and the message to the error buffer, with every
 * control byte (of a file name, say) made '?' so that the message stays
 * one line. Returns -1.
 */
static int	fail(const ectx_t *, unsigned, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
fail(const ectx_t *e, unsigned line, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*p;

	if (e->err == NULL || e->errlen == 0)
		return -1;
	n = snprintf(e->err, e->errlen, "%s:%u: ", e->fname, line);
	if (n >= 0 && (size_t)n < e->errlen) {
		va_start(ap, fmt);
		vsnprintf(e->err + n, e->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	e->err[e->errlen - 1] = '\0';
	for (p = e->err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

/* At most max bytes of s as printable ASCII ('?' for the rest, "..."
 * when cut) into out. */
static const char *
quote(char *out, size_t size, const char *s, size_t n, size_t max)
{
	size_t	 i, o = 0;

	for (i = 0; i < n && i < max && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < n && o + 4 < size) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = '\0';
	return out;
}

/* A time in seconds, as few decimals as it needs ("12", "12.5"). */
static const char *
fmt_time(char *out, size_t size, uint32_t ms)
{
	unsigned	 frac = ms % 1000, digits = 3;

	if (frac == 0) {
		snprintf(out, size, "%u", ms / 1000);
		return out;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out, size, "%u.%0*u", ms / 1000, (int)digits, frac);
	return out;
}

/* ---- values -------------------------------------------------------- */

/* Seconds with up to 3 decimals ("12", "12.5", "0.250") to ms, at most
 * TIME_MAX_S s. */
static bool
parse_time(uint32_t *ms, const char *s, size_t n)
{
	const char	*dot = memchr(s, '.', n);
	size_t		 ni = dot != NULL ? (size_t)(dot - s) : n, nf, i;
	uint64_t	 sec, frac = 0;

	if (!kx_sim_parse_u64(&sec, s, ni) || sec > TIME_MAX_S)
		return false;
	if (dot != NULL) {
		nf = n - ni - 1;
		if (nf < 1 || nf > 3 || !kx_sim_parse_u64(&frac, dot + 1, nf))
			return false;
		for (i = nf; i < 3; i++)
			frac *= 10;
	}
	if (sec * 1000 + frac > (uint64_t)TIME_MAX_S * 1000)
		return false;
	*ms = (uint32_t)(sec * 1000 + frac);
	return true;
}

/*
 * "mK" with K decimal without a leading zero into *k (any size up to
 * 20 digits: the caller checks the range). False if not of that form.
 */
static bool
parse_member(uint64_t *k, const char *s, size_t n)
{
	if (n < 2 || s[0] != 'm' || (s[1] == '0' && n > 2))
		return false;
	return kx_sim_parse_u64(k, s + 1, n - 1);
}

/* ---- lines --------------------------------------------------------- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated token of buf[*pos..end): false at the end. */
static bool
next_tok(const char *buf, size_t *pos, size_t end, const char **t,
    size_t *tn)
{
	size_t	 p = *pos, a;

	while (p < end && is_space(buf[p]))
		p++;
	if (p == end) {
		*pos = p;
		return false;
	}
	for (a = p; p < end && !is_space(buf[p]); p++)
		;
	*t = buf + a;
	*tn = p - a;
	*pos = p;
	return true;
}

static bool
tok_is(const char *t, size_t tn, const char *word)
{
	return strlen(word) == tn && memcmp(t, word, tn) == 0;
}

static int
parse_key(kx_netscript_t *s, unsigned *lines, size_t ki, const char *buf,
    size_t end, unsigned lineno, const ectx_t *e)
{
	const nkey_t	*k = &keys[ki];
	const char	*v, *x;
	size_t		 pos = 0, vn, xn;
	uint64_t	 val;
	char		 q[48];

	next_tok(buf, &pos, end, &v, &vn);	/* the key */
	if (lines[ki] != 0)
		return fail(e, lineno, "%s: set twice (first on line %u)",
		    k->key, lines[ki]);
	lines[ki] = lineno;
	if (!next_tok(buf, &pos, end, &v, &vn))
		return fail(e, lineno, "%s: no value", k->key);
	if (next_tok(buf, &pos, end, &x, &xn))
		return fail(e, lineno, "%s: one value expected, then the end "
		    "of the line or a # comment; got '%s' after it", k->key,
		    quote(q, sizeof(q), x, xn, 32));
	if (!kx_sim_parse_u64(&val, v, vn) || val < k->min || val > k->max)
		return fail(e, lineno, "%s: expected an integer from %llu to "
		    "%llu, got '%s'", k->key, (unsigned long long)k->min,
		    (unsigned long long)k->max, quote(q, sizeof(q), v, vn, 32));
	set_key(s, k, val);
	return 0;
}

/* One node or range token into ev (no duplicates, members 1..64). */
static int
parse_node_tok(kx_net_event_t *ev, const char *t, size_t tn,
    const char *act, unsigned lineno, const ectx_t *e)
{
	const char	*dash = memchr(t, '-', tn);
	uint64_t	 lo = 0, hi = 0;
	size_t		 dn;
	bool		 ok;
	int		 i;
	char		 q[48], name[8];

	if (tok_is(t, tn, "op"))
		lo = hi = KX_NET_OP;
	else {
		if (dash == NULL) {
			ok = parse_member(&lo, t, tn);
			hi = lo;
		} else {
			dn = (size_t)(dash - t);
			ok = parse_member(&lo, t, dn) &&
			    parse_member(&hi, dash + 1, tn - dn - 1);
		}
		if (!ok)
			return fail(e, lineno, "%s: expected op, mK or mJ-mK, "
			    "got '%s'", act, quote(q, sizeof(q), t, tn, 32));
		if (lo < 1 || lo > KX_NET_MEMBERS_MAX || hi < 1 ||
		    hi > KX_NET_MEMBERS_MAX)
			return fail(e, lineno, "%s %s: no such member "
			    "(members are m1..m%d at most)", act,
			    quote(q, sizeof(q), t, tn, 32),
			    KX_NET_MEMBERS_MAX);
		if (lo > hi)
			return fail(e, lineno, "%s %s: a range must go up "
			    "(m%llu-m%llu)", act,
			    quote(q, sizeof(q), t, tn, 32),
			    (unsigned long long)hi, (unsigned long long)lo);
	}
	for (i = (int)lo; i <= (int)hi; i++) {
		if (kx_netscript_has(ev, i)) {
			kx_netscript_name(i, name, sizeof(name));
			return fail(e, lineno, "%s: %s listed twice", act,
			    name);
		}
		set_node(ev, i);
	}
	return 0;
}

/* "at TIME ACTION [NODES...]" appended to s->ev. */
static int
parse_event(kx_netscript_t *s, const char *buf, size_t end,
    unsigned lineno, const ectx_t *e)
{
	kx_net_event_t	 ev;
	const char	*t;
	size_t		 pos = 0, tn, a;
	char		 q[48], t1[16], t2[16];
	const char	*act;

	memset(&ev, 0, sizeof(ev));
	ev.line = lineno;
	next_tok(buf, &pos, end, &t, &tn);	/* "at" */
	if (s->nev >= KX_NET_EVENTS_MAX)
		return fail(e, lineno, "more than %d events",
		    KX_NET_EVENTS_MAX);
	if (!next_tok(buf, &pos, end, &t, &tn))
		return fail(e, lineno, "at: expected 'at TIME ACTION "
		    "[NODES...]'");
	if (!parse_time(&ev.at_ms, t, tn))
		return fail(e, lineno, "at: expected a time in seconds from 0 "
		    "to %u with up to 3 decimals, got '%s'", TIME_MAX_S,
		    quote(q, sizeof(q), t, tn, 32));
	if (s->nev > 0 && ev.at_ms < s->ev[s->nev - 1].at_ms)
		return fail(e, lineno, "at %s: before the event on line %u "
		    "(at %s); events must come in time order",
		    fmt_time(t1, sizeof(t1), ev.at_ms), s->ev[s->nev - 1].line,
		    fmt_time(t2, sizeof(t2), s->ev[s->nev - 1].at_ms));
	if (!next_tok(buf, &pos, end, &t, &tn))
		return fail(e, lineno, "at %s: no action (stop, kill, start, "
		    "join, partition, heal)", fmt_time(t1, sizeof(t1),
		    ev.at_ms));
	for (a = 1; a < NACTIONS; a++)
		if (tok_is(t, tn, actions[a]))
			break;
	if (a == NACTIONS)
		return fail(e, lineno, "at %s: unknown action '%s' (stop, "
		    "kill, start, join, partition, heal)",
		    fmt_time(t1, sizeof(t1), ev.at_ms),
		    quote(q, sizeof(q), t, tn, 32));
	ev.action = (kx_net_action_t)a;
	act = actions[a];
	if (ev.action == KX_NET_HEAL) {
		if (next_tok(buf, &pos, end, &t, &tn))
			return fail(e, lineno, "heal: takes no nodes, got "
			    "'%s'", quote(q, sizeof(q), t, tn, 32));
	} else {
		while (next_tok(buf, &pos, end, &t, &tn))
			if (parse_node_tok(&ev, t, tn, act, lineno, e) != 0)
				return -1;
		if (ev.nodes[0] == 0 && ev.nodes[1] == 0)
			return fail(e, lineno, "%s: needs at least one node "
			    "(op, mK or mJ-mK)", act);
		if (ev.action == KX_NET_JOIN &&
		    kx_netscript_has(&ev, KX_NET_OP))
			return fail(e, lineno, "join op: the operator is "
			    "there from the start; only late members join");
	}
	s->ev[s->nev++] = ev;
	return 0;
}

/* ---- checks once every key is known -------------------------------- */

static unsigned
later(const unsigned *lines, size_t a, size_t b)
{
	return lines[a] > lines[b] ? lines[a] : lines[b];
}

/* "line N" or "default" */
static const char *
origin(char *out, size_t size, unsigned line)
{
	if (line == 0)
		snprintf(out, size, "default");
	else
		snprintf(out, size, "line %u", line);
	return out;
}

static int
check_keys(const kx_netscript_t *s, const unsigned *lines, const ectx_t *e)
{
	char	 o[24];

	if (s->members + s->late > KX_NET_MEMBERS_MAX)
		return fail(e, later(lines, K_MEMBERS, K_LATE), "members %u + "
		    "late %u: %u members, at most %d", s->members, s->late,
		    s->members + s->late, KX_NET_MEMBERS_MAX);
	if (s->gate_s >= s->slot_s)
		return fail(e, later(lines, K_GATE_S, K_SLOT_S), "gate-s %u "
		    "must be below slot-s (%u, %s)", s->gate_s, s->slot_s,
		    origin(o, sizeof(o), lines[K_SLOT_S]));
	return 0;
}

enum { N_ABSENT, N_RUNNING, N_STOPPED };

typedef struct {
	int		 st[NODES];	/* N_* */
	int		 why[NODES];	/* the action that set st, 0: the
					   start of the run */
	unsigned	 line[NODES];	/* its line */
	unsigned	 part;		/* line of the partition in force */
	unsigned	 healed;	/* line of the last heal */
} play_t;

/* Why node i is as it is: "started on line 4", "from the start"... */
static const char *
why(char *out, size_t size, const play_t *p, int i)
{
	static const char *const verb[] = {
		"", "stopped", "killed", "started", "joined", "", ""
	};

	if (p->why[i] == 0)
		snprintf(out, size, "%s", p->st[i] == N_ABSENT ?
		    "a late member" : "running from the start");
	else
		snprintf(out, size, "%s on line %u", verb[p->why[i]],
		    p->line[i]);
	return out;
}

static int
play(const kx_netscript_t *s, const ectx_t *e)
{
	play_t		 p;
	const kx_net_event_t *ev;
	uint64_t	 end_ms;
	unsigned	 total = s->members + s->late, listed, alive;
	size_t		 n;
	int		 i;
	char		 nm[8], w[40], t1[16];
	const char	*act;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < NODES; i++)
		p.st[i] = (unsigned)i <= s->members ? N_RUNNING : N_ABSENT;
	end_ms = (uint64_t)s->slots * s->slot_s * 1000 + END_GRACE_MS;
	for (n = 0; n < s->nev; n++) {
		ev = &s->ev[n];
		act = ev->action > 0 && (size_t)ev->action < NACTIONS ?
		    actions[ev->action] : "?";
		if (ev->at_ms >= end_ms)
			return fail(e, ev->line, "at %s: not before the end "
			    "of the run at %llu s (slots %u x slot-s %u + %u)",
			    fmt_time(t1, sizeof(t1), ev->at_ms),
			    (unsigned long long)(end_ms / 1000), s->slots,
			    s->slot_s, END_GRACE_MS / 1000);
		for (i = (int)total + 1; i < 128; i++)
			if (kx_netscript_has(ev, i))
				return fail(e, ev->line, "%s m%d: no such "
				    "member (members %u + late %u: m1..m%u)",
				    act, i, s->members, s->late, total);
		listed = alive = 0;
		for (i = 0; i < NODES; i++) {
			int has = kx_netscript_has(ev, i);

			if (p.st[i] != N_ABSENT)
				alive++;
			if (!has)
				continue;
			listed++;
			kx_netscript_name(i, nm, sizeof(nm));
			switch (ev->action) {
			case KX_NET_STOP:
			case KX_NET_KILL:
			case KX_NET_START:
			case KX_NET_PARTITION:
				if (p.st[i] == N_ABSENT)
					return fail(e, ev->line, "%s %s: %s "
					    "has not joined yet (a late "
					    "member: join it first)", act, nm,
					    nm);
				if (ev->action == KX_NET_PARTITION)
					break;
				if (ev->action == KX_NET_START &&
				    p.st[i] == N_RUNNING)
					return fail(e, ev->line, "%s %s: %s "
					    "is running (%s)", act, nm, nm,
					    why(w, sizeof(w), &p, i));
				if (ev->action != KX_NET_START &&
				    p.st[i] == N_STOPPED)
					return fail(e, ev->line, "%s %s: %s "
					    "is not running (%s)", act, nm, nm,
					    why(w, sizeof(w), &p, i));
				break;
			case KX_NET_JOIN:
				if ((unsigned)i <= s->members)
					return fail(e, ev->line, "join %s: "
					    "%s is an initial member (m1..m%u "
					    "run from the start); only late "
					    "members join", nm, nm,
					    s->members);
				if (p.st[i] != N_ABSENT)
					return fail(e, ev->line, "join %s: "
					    "%s has joined already (%s)", nm,
					    nm, why(w, sizeof(w), &p, i));
				break;
			default:
				return fail(e, ev->line, "%s: no nodes "
				    "expected", act);
			}
		}
		switch (ev->action) {
		case KX_NET_PARTITION:
			if (p.part != 0)
				return fail(e, ev->line, "partition: a "
				    "partition is in force already (line %u); "
				    "heal it first", p.part);
			if (listed >= alive)
				return fail(e, ev->line, "partition: lists "
				    "every node there is (%u), so the other "
				    "side would be empty", alive);
			p.part = ev->line;
			break;
		case KX_NET_HEAL:
			if (p.part == 0 && p.healed != 0)
				return fail(e, ev->line, "heal: no partition "
				    "is in force (healed on line %u)",
				    p.healed);
			if (p.part == 0)
				return fail(e, ev->line, "heal: no partition "
				    "is in force");
			p.part = 0;
			p.healed = ev->line;
			break;
		case KX_NET_STOP:
		case KX_NET_KILL:
		case KX_NET_START:
		case KX_NET_JOIN:
			for (i = 0; i < NODES; i++)
				if (kx_netscript_has(ev, i)) {
					p.st[i] = ev->action == KX_NET_STOP ||
					    ev->action == KX_NET_KILL ?
					    N_STOPPED : N_RUNNING;
					p.why[i] = (int)ev->action;
					p.line[i] = ev->line;
				}
			break;
		default:
			return fail(e, ev->line, "unknown action %d",
			    (int)ev->action);
		}
	}
	return 0;
}

/* ---- the parser ---------------------------------------------------- */

/* The line (from 1) that holds byte off of text. */
static unsigned
line_of(const char *text, size_t off)
{
	unsigned	 line = 1;
	size_t		 i;

	for (i = 0; i < off; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

int
kx_netscript_parse(kx_netscript_t *s, const char *text, size_t len,
    const char *fname, char *err, size_t errlen)
{
	ectx_t		 e;
	unsigned	 lines[NKEYS], lineno = 0;
	size_t		 pos = 0, a, b, i, ki, tn, tp;
	const char	*t;
	char		 q[48];

	e.fname = fname != NULL ? fname : "script";
	e.err = err;
	e.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	kx_netscript_default(s);
	memset(lines, 0, sizeof(lines));
	if (text == NULL && len > 0)
		return fail(&e, 1, "no data");
	if (len > KX_NET_FILE_MAX)
		return fail(&e, line_of(text, KX_NET_FILE_MAX), "the script "
		    "is longer than %u bytes", KX_NET_FILE_MAX);
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;	/* a UTF-8 byte order mark */
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		lineno++;
		a = pos;
		b = nl != NULL ? (size_t)(nl - text) : len;
		pos = nl != NULL ? b + 1 : len;
		if (b > a && text[b - 1] == '\r')
			b--;	/* CRLF */
		if (b - a > LINE_MAX_B)
			return fail(&e, lineno, "line longer than %d bytes",
			    LINE_MAX_B);
		for (i = a; i < b; i++) {
			unsigned char c = (unsigned char)text[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(&e, lineno, "control character "
				    "0x%02x in column %zu", c, i - a + 1);
		}
		/* a comment: # at the start or after a blank */
		for (i = a; i < b; i++)
			if (text[i] == '#' && (i == a ||
			    is_space(text[i - 1]))) {
				b = i;
				break;
			}
		tp = 0;
		if (!next_tok(text + a, &tp, b - a, &t, &tn))
			continue;	/* blank or a comment */
		if (tok_is(t, tn, "at")) {
			if (parse_event(s, text + a, b - a, lineno, &e) != 0)
				return -1;
			continue;
		}
		for (ki = 0; ki < NKEYS; ki++)
			if (tok_is(t, tn, keys[ki].key))
				break;
		if (ki == NKEYS)
			return fail(&e, lineno, "unknown key '%s' (members, "
			    "late, slots, slot-s, gate-s, degree, gossip-ms, "
			    "seed, or an event: at TIME ACTION [NODES...])",
			    quote(q, sizeof(q), t, tn, 32));
		if (parse_key(s, lines, ki, text + a, b - a, lineno, &e) != 0)
			return -1;
	}
	if (check_keys(s, lines, &e) != 0 || play(s, &e) != 0)
		return -1;
	return 0;
}

/* ---- writing a script ---------------------------------------------- */

/*
 * Every key, then the events with their node sets as sorted lists (runs
 * of three or more as ranges). Parsing the output gives s again, except
 * for the events' `line`, which counts the lines of the new text.
 */
size_t
kx_netscript_format(const kx_netscript_t *s, char *out, size_t outlen)
{
	size_t		 i, n = 0, nev;
	int		 w, j, k;
	char		 dummy[1], t[16];
	const kx_net_event_t *ev;

	if (out == NULL || outlen == 0) {
		out = dummy;
		outlen = 1;
	}
#define OUT(...)	do {						\
		w = snprintf(out + (n < outlen ? n : outlen - 1),	\
		    n < outlen ? outlen - n : 1, __VA_ARGS__);		\
		if (w > 0)						\
			n += (size_t)w;					\
	} while (0)
	out[0] = '\0';
	OUT("# kaga-sim net script (docs/sim.md, \"Protocol mode\")\n");
	for (i = 0; i < NKEYS; i++)
		OUT("%s %llu\n", keys[i].key,
		    (unsigned long long)get_key(s, &keys[i]));
	nev = s->nev < KX_NET_EVENTS_MAX ? s->nev : KX_NET_EVENTS_MAX;
	for (i = 0; i < nev; i++) {
		ev = &s->ev[i];
		OUT("at %s %s", fmt_time(t, sizeof(t), ev->at_ms),
		    ev->action > 0 && (size_t)ev->action < NACTIONS ?
		    actions[ev->action] : "?");
		if (kx_netscript_has(ev, KX_NET_OP))
			OUT(" op");
		for (j = 1; j < 128; j = k) {
			if (!kx_netscript_has(ev, j)) {
				k = j + 1;
				continue;
			}
			for (k = j; k < 128 && kx_netscript_has(ev, k); k++)
				;
			if (k - j >= 3)
				OUT(" m%d-m%d", j, k - 1);
			else if (k - j == 2)
				OUT(" m%d m%d", j, j + 1);
			else
				OUT(" m%d", j);
		}
		OUT("\n");
	}
#undef OUT
	return n;
}
