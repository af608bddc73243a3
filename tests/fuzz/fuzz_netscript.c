/*
 * fuzz_netscript.c - libFuzzer target for the script of `kaga-sim net`
 * (sim/netscript.c, included here: the simulator's sources are not part
 * of libkaga.a).
 *
 * The input is read as a script. A refusal must be one line
 * "fuzz:LINE: what" with LINE a line of the input, NUL-terminated in the
 * error buffer, the same refusal with a buffer of 8 bytes cut short and
 * still terminated. An acceptance must hold every rule of netscript.h,
 * checked again here by code of its own (ranges, time order, the end of
 * the run, node lists, the nodes' states and the partition), and survive
 * a round trip: kx_netscript_format, parsed again, gives the same script
 * apart from the events' lines. abort() on any violation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/netscript.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The rules of netscript.h, written again without the parser's code. */
static void
check_rules(const kx_netscript_t *s)
{
	static const kx_net_event_t zero;
	int		 state[NODES];	/* 0 not joined, 1 running, 2 stopped */
	int		 part = 0, i, in, all;
	unsigned	 total;
	uint64_t	 end_ms, mask;
	size_t		 n;
	const kx_net_event_t *ev;

	if (s->members < 1 || s->members > 64 || s->late > 63 ||
	    s->members + s->late > 64 || s->slots < 1 || s->slots > 10000 ||
	    s->slot_s < 4 || s->slot_s > 3600 || s->gate_s < 1 ||
	    s->gate_s >= s->slot_s || s->degree < 1 || s->degree > 16 ||
	    s->gossip_ms < 50 || s->gossip_ms > 10000 ||
	    s->nev > KX_NET_EVENTS_MAX)
		abort();
	total = s->members + s->late;
	/* bits 0 .. total of nodes[0] (bit 64 is nodes[1]'s bit 0) */
	mask = total >= 63 ? UINT64_MAX : ((uint64_t)1 << (total + 1)) - 1;
	end_ms = (uint64_t)s->slots * s->slot_s * 1000 + 30000;
	for (i = 0; i < NODES; i++)
		state[i] = i <= (int)s->members ? 1 : 0;
	for (n = 0; n < s->nev; n++) {
		ev = &s->ev[n];
		if (ev->action < KX_NET_STOP || ev->action > KX_NET_HEAL ||
		    ev->line < 1 || ev->at_ms >= end_ms ||
		    ev->at_ms > 4000000000u)
			abort();
		if (n > 0 && (ev->at_ms < ev[-1].at_ms ||
		    ev->line <= ev[-1].line))
			abort();
		/* only op, m1 .. m(members + late) */
		if ((ev->nodes[0] & ~mask) != 0 ||
		    (ev->nodes[1] & ~(uint64_t)(total == 64 ? 1 : 0)) != 0)
			abort();
		if ((ev->action == KX_NET_HEAL) !=
		    (ev->nodes[0] == 0 && ev->nodes[1] == 0))
			abort();
		in = all = 0;
		for (i = 0; i < NODES; i++) {
			int has = kx_netscript_has(ev, i);

			all += state[i] != 0;
			in += has;
			if (!has)
				continue;
			switch (ev->action) {
			case KX_NET_STOP:
			case KX_NET_KILL:
				if (state[i] != 1)
					abort();
				state[i] = 2;
				break;
			case KX_NET_START:
				if (state[i] != 2)
					abort();
				state[i] = 1;
				break;
			case KX_NET_JOIN:
				if (i == 0 || i <= (int)s->members ||
				    state[i] != 0)
					abort();
				state[i] = 1;
				break;
			case KX_NET_PARTITION:
				if (state[i] == 0)
					abort();
				break;
			default:
				abort();
			}
		}
		if (ev->action == KX_NET_PARTITION) {
			if (part || in < 1 || in >= all)
				abort();
			part = 1;
		}
		if (ev->action == KX_NET_HEAL) {
			if (!part)
				abort();
			part = 0;
		}
	}
	for (; n < KX_NET_EVENTS_MAX; n++)
		if (memcmp(&s->ev[n], &zero, sizeof(zero)) != 0)
			abort();
}

static void
same_but_lines(const kx_netscript_t *a, const kx_netscript_t *b)
{
	size_t	 i;

	if (a->members != b->members || a->late != b->late ||
	    a->slots != b->slots || a->slot_s != b->slot_s ||
	    a->gate_s != b->gate_s || a->degree != b->degree ||
	    a->gossip_ms != b->gossip_ms || a->seed != b->seed ||
	    a->nev != b->nev)
		abort();
	for (i = 0; i < a->nev; i++)
		if (a->ev[i].at_ms != b->ev[i].at_ms ||
		    a->ev[i].action != b->ev[i].action ||
		    a->ev[i].nodes[0] != b->ev[i].nodes[0] ||
		    a->ev[i].nodes[1] != b->ev[i].nodes[1])
			abort();
}

static void
check_accepted(const kx_netscript_t *s)
{
	kx_netscript_t	 again;
	char		 err[KX_NET_ERR_MAX], *txt, cut[16];
	size_t		 n;

	check_rules(s);
	n = kx_netscript_format(s, NULL, 0);
	if ((txt = malloc(n + 1)) == NULL)
		return;
	if (kx_netscript_format(s, txt, n + 1) != n || strlen(txt) != n)
		abort();
	if (kx_netscript_format(s, cut, sizeof(cut)) != n ||
	    strlen(cut) != sizeof(cut) - 1 ||
	    memcmp(cut, txt, sizeof(cut) - 1) != 0)
		abort();
	if (kx_netscript_parse(&again, txt, n, "again", err,
	    sizeof(err)) != 0)
		abort();
	same_but_lines(s, &again);
	free(txt);
}

/* "fuzz:LINE: what", LINE from 1 to the input's last line. */
static void
check_refused(const char *err, size_t errlen, const uint8_t *data,
    size_t size)
{
	const char	*p;
	unsigned long	 line = 0, lines = 1;
	size_t		 i;

	if (memchr(err, '\0', errlen) == NULL || strncmp(err, "fuzz:", 5) != 0)
		abort();
	for (p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	for (p = err + 5; *p >= '0' && *p <= '9' && line < 1000000; p++)
		line = line * 10 + (unsigned long)(*p - '0');
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (p == err + 5 || strncmp(p, ": ", 2) != 0 || p[2] == '\0' ||
	    line < 1 || line > lines)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kx_netscript_t	 s;
	char		 err[KX_NET_ERR_MAX], small[8];
	int		 r;

	memset(err, 'x', sizeof(err));
	r = kx_netscript_parse(&s, (const char *)data, size, "fuzz", err,
	    sizeof(err));
	if (r == 0) {
		check_accepted(&s);
		return 0;
	}
	if (r != -1)
		abort();
	check_refused(err, sizeof(err), data, size);
	/* a short buffer: the same refusal, cut and terminated */
	memset(small, 'x', sizeof(small));
	if (kx_netscript_parse(&s, (const char *)data, size, "fuzz", small,
	    sizeof(small)) != -1 ||
	    memchr(small, '\0', sizeof(small)) == NULL ||
	    strncmp(small, err, strlen(small)) != 0 ||
	    strlen(small) != (strlen(err) < 7 ? strlen(err) : 7))
		abort();
	if (kx_netscript_parse(&s, (const char *)data, size, "fuzz", NULL,
	    0) != -1)
		abort();
	return 0;
}
