/*
 * node.c - the kaga-node event loop: transport, ZAP admission, gossip,
 * abuse limits and the control socket (docs/gossip.md).
 *
 * One thread. Each loop turn polls the ZAP handler, the control socket,
 * the ROUTER (inbound peers) and every outbound DEALER; everything read
 * in a turn is imported into the store inside one batch, committed at the
 * end of the turn (one durable commit per turn), and only then are the
 * newly accepted messages pushed on to the peers. Tuned for a city of
 * tens of thousands of members with about 8 outbound peers per node.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "body.h"
#include "frames.h"
#include "json.h"
#include "keyfile.h"
#include "log.h"
#include "autobid.h"
#include "bill.h"
#include "communityd.h"
#include "meterd.h"
#include "metrics.h"
#include "mktd.h"
#include "msgjson.h"
#include "node.h"
#include "privacy.h"
#include "store.h"
#include "sumd.h"

volatile sig_atomic_t	kx_quit, kx_reload;

#define PEER_TABLE	512		/* peers known at once */
#define AUTHOR_TABLE	4096		/* per-author buckets (hashed) */
#define TURN_BUDGET	4096		/* wire messages read per turn */
#define SERVE_MAX	4096		/* messages sent for one VEC */
#define REQ_RATE	50		/* VEC + WANT per second per peer */
#define REQ_BURST	100
#define ASK_MS		10000		/* how long a request is honoured */
#define SELECT_MS	1000		/* peer selection period */
#define DEAD_MS		4000		/* a silent DEALER is reopened */
#define ALLOW_MS	5000		/* allowlist refresh period */
#define INBOUND_IDLE_MS	120000		/* forget an inbound route */
#define SCORE_INVALID	-10
#define SCORE_UNASKED	-5
#define SCORE_OVERSIZE	-20
#define SCORE_RATE	-1
#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"

/* Token bucket in milli-tokens: rate tokens/s, burst tokens. */
typedef struct {
	int64_t		 milli;
	int64_t		 last_ms;
	unsigned	 rate, burst;
} bucket_t;

struct peer {
	bool		 used;
	uint8_t		 pk[KX_PK_LEN];
	char		 hex[2 * KX_PK_LEN + 1];
	char		 endpoint[256];	/* "" if unknown */
	bool		 configured;	/* a bootstrap peer from the config */
	void		*dealer;	/* our outbound socket to it, or NULL */
	uint8_t		 rid[256];	/* its routing id on our ROUTER */
	size_t		 rid_len;
	int64_t		 rid_seen_ms;
	bucket_t	 bucket;	/* PUSH */
	bucket_t	 req_bucket;	/* VEC and WANT: each may cost us 4096 */
	int		 score;
	int64_t		 banned_until;
	int64_t		 asked_until;	/* MSGS from it are welcome until */
	bool		 allowed;	/* member, operator or configured */
	int64_t		 dealer_since;	/* when the DEALER was opened */
	int64_t		 dealer_rx_ms;	/* last received on the DEALER */
	uint64_t	 rx, tx, dropped;
};

struct allow {
	uint8_t		 curve[32];
	uint8_t		 ed[KX_PK_LEN];
};

struct author_bucket {
	uint8_t		 pk[KX_PK_LEN];
	bucket_t	 b;
};

/* A message to push on after the turn's commit. */
struct fwd {
	uint8_t		 author[KX_PK_LEN];
	uint64_t	 seq;
	int		 src;		/* peer index, or -1 */
	bool		 fork;
};

/* Counters shown by `kaga-ctl status`. */
enum {
	C_ACCEPTED, C_INVALID, C_DUPLICATE, C_HELD, C_FORK,
	C_REJ_SIZE, C_REJ_DECODE, C_REJ_VERSION, C_REJ_ADMISSION,
	C_REJ_CHAIN, C_REJ_CLOCK, C_REJ_SIGNATURE, C_REJ_OTHER,
	C_RATE_PEER, C_RATE_AUTHOR, C_UNREQUESTED, C_BAD_FRAME,
	C_DENIED, C_ZAP_OK, C_ZAP_REFUSED, C_PUBLISHED, C_COUNT
};
static const char *const counter_names[C_COUNT] = {
	"accepted", "invalid", "duplicate", "held", "fork",
	"rejected_size", "rejected_decode", "rejected_version",
	"rejected_admission", "rejected_chain", "rejected_clock",
	"rejected_signature", "rejected_other",
	"rate_limited_peer", "rate_limited_author", "unrequested",
	"bad_frame", "denied_peer", "zap_admitted", "zap_refused",
	"published",
};

struct kx_node {
	kx_conf_t	 conf;
	kx_store_t	*st;
	kx_meterd_t	*meters;	/* NULL-safe: no meters configured */
	kx_mktd_t	*mkt;		/* market duties and the ledger */
	int		 metrics_fd;	/* Prometheus port, or -1 */
	kx_autobid_t	*autobid;	/* NULL: the node places no orders */
	uint8_t		 sk[KX_SK_LEN], pk[KX_PK_LEN];
	uint8_t		 csk[32], cpk[32];
	char		 hex[2 * KX_PK_LEN + 1];
	void		*ctx, *zap, *router, *control;
	char		 control_path[4200];
	struct peer	 peers[PEER_TABLE];
	struct allow	*allow;
	size_t		 nallow;
	struct author_bucket *abuckets;
	struct fwd	*fwdq;
	size_t		 nfwd, fwdcap;
	bool		 in_batch;
	bool		 allow_dirty;
	bool		 rebind;
	int64_t		 next_ae, next_select, next_allow, next_params;
	uint64_t	 counters[C_COUNT];
	kx_buf_t	 tmp, tmp2;
	struct peer	*reply_to;	/* the peer whose frames we handle */
	bool		 reply_dealer;	/* they came on our DEALER to it */
	bool		 force_dealer;	/* send on the DEALER (a probe) */
};

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- token buckets --------------------------------------------------- */

static void
bucket_init(bucket_t *b, unsigned rate, unsigned burst, int64_t now)
{
	b->rate = rate;
	b->burst = burst;
	b->milli = (int64_t)burst * 1000;
	b->last_ms = now;
}

static bool
bucket_take(bucket_t *b, int64_t now)
{
	if (now > b->last_ms) {
		b->milli += (now - b->last_ms) * (int64_t)b->rate;
		if (b->milli > (int64_t)b->burst * 1000)
			b->milli = (int64_t)b->burst * 1000;
		b->last_ms = now;
	}
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

static bool
author_take(kx_node_t *n, const uint8_t *author, int64_t now)
{
	struct author_bucket	*ab;
	uint64_t		 h;

	memcpy(&h, author, sizeof(h));	/* keys are uniformly random */
	ab = &n->abuckets[h % AUTHOR_TABLE];
	if (memcmp(ab->pk, author, KX_PK_LEN) != 0) {
		memcpy(ab->pk, author, KX_PK_LEN);
		bucket_init(&ab->b, n->conf.author_rate, n->conf.author_burst,
		    now);
	}
	return bucket_take(&ab->b, now);
}

/* ---- peers ----------------------------------------------------------- */

static struct peer *
peer_find(kx_node_t *n, const uint8_t *pk)
{
	int	 i;

	for (i = 0; i < PEER_TABLE; i++)
		if (n->peers[i].used &&
		    memcmp(n->peers[i].pk, pk, KX_PK_LEN) == 0)
			return &n->peers[i];
	return NULL;
}

static bool	allowed(kx_node_t *, const uint8_t *);

static struct peer *
peer_get(kx_node_t *n, const uint8_t *pk)
{
	struct peer	*p;
	int		 i, victim = -1;

	if ((p = peer_find(n, pk)) != NULL)
		return p;
	for (i = 0; i < PEER_TABLE; i++)
		if (!n->peers[i].used) {
			victim = i;
			break;
		}
	if (victim == -1) {
		/* evict an idle inbound-only peer */
		for (i = 0; i < PEER_TABLE; i++)
			if (n->peers[i].dealer == NULL &&
			    !n->peers[i].configured &&
			    n->peers[i].banned_until == 0) {
				victim = i;
				break;
			}
		if (victim == -1)
			return NULL;
	}
	p = &n->peers[victim];
	memset(p, 0, sizeof(*p));
	p->used = true;
	memcpy(p->pk, pk, KX_PK_LEN);
	kx_hex(p->hex, pk, KX_PK_LEN);
	bucket_init(&p->bucket, n->conf.peer_rate, n->conf.peer_burst,
	    mono_ms());
	bucket_init(&p->req_bucket, REQ_RATE, REQ_BURST, mono_ms());
	p->allowed = allowed(n, pk);
	return p;
}

static void
peer_close(struct peer *p)
{
	if (p->dealer != NULL) {
		zmq_close(p->dealer);
		p->dealer = NULL;
	}
}

static bool
peer_banned(const struct peer *p, int64_t now)
{
	return p->banned_until > now;
}

static void
peer_penalise(kx_node_t *n, struct peer *p, int delta, const char *why)
{
	int64_t	 now = mono_ms();

	p->score += delta;
	if (p->score > n->conf.ban_score || peer_banned(p, now))
		return;
	log_warnx("peer %.16s: banned for %u s (score %d, last: %s)", p->hex,
	    n->conf.ban_time_s, p->score, why);
	p->banned_until = now + (int64_t)n->conf.ban_time_s * 1000;
	p->score = 0;
	peer_close(p);
	if (p->rid_len > 0) {
		n->rebind = true;	/* drop its inbound connection */
		p->rid_len = 0;
	}
}

/* ---- the allowlist and ZAP ------------------------------------------- */

static int
allow_cmp(const void *a, const void *b)
{
	return memcmp(((const struct allow *)a)->curve,
	    ((const struct allow *)b)->curve, 32);
}

struct allow_build {
	struct allow	*a;
	size_t		 n, cap;
};

static int
allow_add(struct allow_build *ab, const uint8_t *ed)
{
	struct allow	*na;

	if (ab->n == ab->cap) {
		ab->cap = ab->cap ? ab->cap * 2 : 64;
		if ((na = realloc(ab->a, ab->cap * sizeof(*na))) == NULL)
			return -1;
		ab->a = na;
	}
	if (crypto_sign_ed25519_pk_to_curve25519(ab->a[ab->n].curve, ed) != 0)
		return 0;	/* not a valid point: cannot connect anyway */
	memcpy(ab->a[ab->n].ed, ed, KX_PK_LEN);
	ab->n++;
	return 0;
}

static int
allow_member(void *arg, const kx_member_t *m)
{
	return allow_add(arg, m->node);
}

static bool
allowed(kx_node_t *n, const uint8_t *ed)
{
	size_t	 i;

	for (i = 0; i < n->nallow; i++)
		if (memcmp(n->allow[i].ed, ed, KX_PK_LEN) == 0)
			return true;
	return false;
}

/*
 * Rebuilds who may connect: members admitted now, operator keys and the
 * configured peers. Peers no longer allowed are cut off: their DEALER is
 * closed, and the ROUTER is rebound to drop their inbound connection
 * (ZAP refuses them when they come back).
 */
static void
allow_rebuild(kx_node_t *n)
{
	struct allow_build	 ab;
	size_t			 i;
	int			 k;

	memset(&ab, 0, sizeof(ab));
	if (kx_store_members(n->st, now_ms(), allow_member, &ab) != KX_OK) {
		log_warnx("store: cannot read members; allowlist unchanged");
		free(ab.a);
		return;
	}
	for (i = 0; i < n->conf.noperators; i++)
		allow_add(&ab, n->conf.operators[i]);
	for (i = 0; i < n->conf.npeers; i++)
		allow_add(&ab, n->conf.peers[i].pk);
	qsort(ab.a, ab.n, sizeof(*ab.a), allow_cmp);
	free(n->allow);
	n->allow = ab.a;
	n->nallow = ab.n;
	n->allow_dirty = false;
	n->next_allow = mono_ms() + ALLOW_MS;
	for (k = 0; k < PEER_TABLE; k++) {
		struct peer	*p = &n->peers[k];

		if (!p->used)
			continue;
		p->allowed = allowed(n, p->pk);
		if (p->allowed)
			continue;
		if (p->dealer != NULL || p->rid_len > 0)
			log_info("peer %.16s: no longer admitted; "
			    "disconnecting", p->hex);
		peer_close(p);
		if (p->rid_len > 0) {
			n->rebind = true;
			p->rid_len = 0;
		}
	}
}

static void
zap_reply(void *zap, const char *reqid, size_t reqid_len, const char *code,
    const char *text, const char *user)
{
	zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(zap, reqid, reqid_len, ZMQ_SNDMORE);
	zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(zap, "", 0, 0);
}

/* One ZAP request: admit a CURVE client whose key is on the allowlist. */
static void
zap_handle(kx_node_t *n)
{
	zmq_msg_t	 part[8];
	struct allow	 key, *hit = NULL;
	struct peer	*p;
	char		 reqid[256], hex[2 * KX_PK_LEN + 1];
	size_t		 reqid_len = 0;
	int		 i, np = 0, more = 1;

	while (more && np < 8) {
		zmq_msg_init(&part[np]);
		if (zmq_msg_recv(&part[np], n->zap, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&part[np]);
			break;
		}
		more = zmq_msg_more(&part[np]);
		np++;
	}
	while (more) {	/* drain a malformed request */
		zmq_msg_t	 junk;

		zmq_msg_init(&junk);
		if (zmq_msg_recv(&junk, n->zap, 0) == -1)
			break;
		more = zmq_msg_more(&junk);
		zmq_msg_close(&junk);
	}
	if (np < 2)
		goto done;
	reqid_len = zmq_msg_size(&part[1]);
	if (reqid_len > sizeof(reqid))
		reqid_len = sizeof(reqid);
	memcpy(reqid, zmq_msg_data(&part[1]), reqid_len);
	if (np != 7 || zmq_msg_size(&part[5]) != 5 ||
	    memcmp(zmq_msg_data(&part[5]), "CURVE", 5) != 0 ||
	    zmq_msg_size(&part[6]) != 32) {
		zap_reply(n->zap, reqid, reqid_len, "400", "CURVE only", "");
		n->counters[C_ZAP_REFUSED]++;
		goto done;
	}
	memcpy(key.curve, zmq_msg_data(&part[6]), 32);
	hit = bsearch(&key, n->allow, n->nallow, sizeof(key), allow_cmp);
	if (hit == NULL) {
		zap_reply(n->zap, reqid, reqid_len, "400", "not a member", "");
		n->counters[C_ZAP_REFUSED]++;
		log_debug("zap: refused an unknown key");
		goto done;
	}
	if ((p = peer_find(n, hit->ed)) != NULL &&
	    peer_banned(p, mono_ms())) {
		zap_reply(n->zap, reqid, reqid_len, "400", "banned", "");
		n->counters[C_ZAP_REFUSED]++;
		goto done;
	}
	kx_hex(hex, hit->ed, KX_PK_LEN);
	zap_reply(n->zap, reqid, reqid_len, "200", "OK", hex);
	n->counters[C_ZAP_OK]++;
done:
	for (i = 0; i < np; i++)
		zmq_msg_close(&part[i]);
}

/* ---- sockets ----------------------------------------------------------- */

static int
set_common(kx_node_t *n, void *s)
{
	int	 linger = 0, hwm = 200000, ivl = 200, hs = 5000;
	int64_t	 max = (int64_t)n->conf.max_message;

	if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) == -1 ||
	    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) == -1 ||
	    zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &hs, sizeof(hs)) == -1 ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) == -1)
		return -1;
	return 0;
}

static int
router_open(kx_node_t *n)
{
	int	 one = 1;

	if (n->conf.listen[0] == '\0')
		return 0;
	if ((n->router = zmq_socket(n->ctx, ZMQ_ROUTER)) == NULL ||
	    set_common(n, n->router) == -1 ||
	    zmq_setsockopt(n->router, ZMQ_ZAP_DOMAIN, "kaga", 4) == -1 ||
	    zmq_setsockopt(n->router, ZMQ_CURVE_SERVER, &one,
	    sizeof(one)) == -1 ||
	    zmq_setsockopt(n->router, ZMQ_CURVE_SECRETKEY, n->csk, 32) == -1)
		return -1;
	if (zmq_bind(n->router, n->conf.listen) == -1)
		return -1;
	return 0;
}

static void
router_rebind(kx_node_t *n)
{
	int	 tries;

	if (n->router == NULL)
		return;
	zmq_close(n->router);
	n->router = NULL;
	for (tries = 0; tries < 50; tries++) {
		if (router_open(n) == 0) {
			log_info("listener rebound on %s", n->conf.listen);
			n->rebind = false;
			return;
		}
		if (n->router != NULL) {
			zmq_close(n->router);
			n->router = NULL;
		}
		usleep(20000);
	}
	log_warn("cannot rebind %s; retrying", n->conf.listen);
}

static int
dealer_open(kx_node_t *n, struct peer *p)
{
	uint8_t	 server[32];
	void	*s;

	if (p->endpoint[0] == '\0' ||
	    crypto_sign_ed25519_pk_to_curve25519(server, p->pk) != 0)
		return -1;
	if ((s = zmq_socket(n->ctx, ZMQ_DEALER)) == NULL)
		return -1;
	if (set_common(n, s) == -1 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32) == -1 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, n->cpk, 32) == -1 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, n->csk, 32) == -1 ||
	    zmq_connect(s, p->endpoint) == -1) {
		log_warn("peer %.16s: cannot connect to %s", p->hex,
		    p->endpoint);
		zmq_close(s);
		return -1;
	}
	p->dealer = s;
	p->dealer_since = mono_ms();
	log_debug("peer %.16s: connecting to %s", p->hex, p->endpoint);
	return 0;
}

/*
 * Sends a header and parts to a peer: on our DEALER to it if we have one,
 * else through the ROUTER by its routing id. Never blocks; a full queue
 * drops the message (anti-entropy repairs that).
 */
static int
peer_send(kx_node_t *n, struct peer *p, const kx_buf_t *hdr,
    const uint8_t *const *parts, const size_t *lens, size_t nparts)
{
	void	*s = NULL;
	size_t	 i;
	int	 fl;
	bool	 rid_ok = p->rid_len > 0 && n->router != NULL;

	/*
	 * A reply goes back the way its request came. Otherwise the DEALER
	 * once it has proved to work (something came back on it), else the
	 * peer's inbound connection, else the DEALER (queued until it
	 * connects).
	 */
	if (n->force_dealer)
		s = p->dealer;
	else if (n->reply_to == p)
		s = n->reply_dealer ? p->dealer : (rid_ok ? n->router : NULL);
	else if (p->dealer != NULL && p->dealer_rx_ms > p->dealer_since)
		s = p->dealer;
	else if (rid_ok)
		s = n->router;
	else
		s = p->dealer;
	if (s == NULL)
		return -1;
	if (s == n->router && zmq_send(s, p->rid, p->rid_len, ZMQ_SNDMORE |
	    ZMQ_DONTWAIT) == -1)
		return -1;
	fl = ZMQ_DONTWAIT | (nparts > 0 ? ZMQ_SNDMORE : 0);
	if (zmq_send(s, hdr->data, hdr->len, fl) == -1)
		return -1;
	for (i = 0; i < nparts; i++) {
		fl = ZMQ_DONTWAIT | (i + 1 < nparts ? ZMQ_SNDMORE : 0);
		if (zmq_send(s, parts[i], lens[i], fl) == -1)
			return -1;
	}
	p->tx++;
	return 0;
}

static bool
peer_reachable(const kx_node_t *n, const struct peer *p, int64_t now)
{
	return p->used && p->allowed && !peer_banned(p, now) &&
	    (p->dealer != NULL || (p->rid_len > 0 && n->router != NULL &&
	    now - p->rid_seen_ms < INBOUND_IDLE_MS));
}

/* ---- gossip: sending ------------------------------------------------- */

static void
send_header_only(kx_node_t *n, struct peer *p, const kx_frame_t *f)
{
	kx_buf_reset(&n->tmp);
	if (kx_frame_encode(&n->tmp, f) == 0)
		peer_send(n, p, &n->tmp, NULL, NULL, 0);
}

struct vec_build {
	kx_vec_entry_t	*e;
	size_t		 n, cap;
	crypto_generichash_state h;
};

static int
vec_add(void *arg, const uint8_t *author, const kx_head_t *h)
{
	struct vec_build	*vb = arg;
	kx_vec_entry_t		*ne;
	uint8_t			 seq[8];
	int			 i;

	if (h->last_seq == 0)
		return 0;
	if (vb->n == vb->cap) {
		vb->cap = vb->cap ? vb->cap * 2 : 256;
		if ((ne = realloc(vb->e, vb->cap * sizeof(*ne))) == NULL)
			return 1;
		vb->e = ne;
	}
	memcpy(vb->e[vb->n].author, author, KX_PK_LEN);
	vb->e[vb->n].seq = h->last_seq;
	for (i = 0; i < 8; i++)
		seq[i] = (uint8_t)(h->last_seq >> (56 - 8 * i));
	crypto_generichash_update(&vb->h, author, KX_PK_LEN);
	crypto_generichash_update(&vb->h, seq, 8);
	vb->n++;
	return 0;
}

/* Our head vector (authors in byte order) and its digest. */
static int
vec_build(kx_node_t *n, struct vec_build *vb, uint8_t digest[KX_ID_LEN])
{
	memset(vb, 0, sizeof(*vb));
	crypto_generichash_init(&vb->h, NULL, 0, KX_ID_LEN);
	if (kx_store_heads(n->st, vec_add, vb) != KX_OK) {
		free(vb->e);
		return -1;
	}
	crypto_generichash_final(&vb->h, digest, KX_ID_LEN);
	return 0;
}

/* Sends our head vector; reply asks the peer for its own in return. */
static void
send_vec(kx_node_t *n, struct peer *p, bool reply)
{
	struct vec_build	 vb;
	kx_frame_t		 f;
	kx_buf_t		*chunks;
	const uint8_t		**parts;
	size_t			*lens, nchunks, i;

	memset(&f, 0, sizeof(f));
	f.kind = KX_F_VEC;
	f.flag = reply;
	if (vec_build(n, &vb, f.digest) == -1)
		return;
	nchunks = (vb.n + KX_VEC_CHUNK - 1) / KX_VEC_CHUNK;
	chunks = calloc(nchunks + 1, sizeof(*chunks));
	parts = calloc(nchunks + 1, sizeof(*parts));
	lens = calloc(nchunks + 1, sizeof(*lens));
	if (chunks == NULL || parts == NULL || lens == NULL)
		goto done;
	for (i = 0; i < nchunks; i++) {
		size_t	 k = vb.n - i * KX_VEC_CHUNK;

		kx_buf_init(&chunks[i]);
		if (kx_vec_encode(&chunks[i], vb.e + i * KX_VEC_CHUNK,
		    k < KX_VEC_CHUNK ? k : KX_VEC_CHUNK) == -1)
			goto done;
		parts[i] = chunks[i].data;
		lens[i] = chunks[i].len;
	}
	kx_buf_reset(&n->tmp);
	if (kx_frame_encode(&n->tmp, &f) == 0 &&
	    peer_send(n, p, &n->tmp, parts, lens, nchunks) == 0)
		p->asked_until = mono_ms() + ASK_MS;
done:
	if (chunks != NULL)
		for (i = 0; i < nchunks; i++)
			kx_buf_free(&chunks[i]);
	free(chunks);
	free(parts);
	free(lens);
	free(vb.e);
}

/* Collects stored messages into one MSGS frame. */
struct msgs_build {
	kx_buf_t	 data;		/* the wires, back to back */
	size_t		 off[KX_F_PARTS_MAX], len[KX_F_PARTS_MAX];
	size_t		 n;
};

static int
msgs_add(void *arg, const kx_stored_t *s)
{
	struct msgs_build	*mb = arg;

	if (mb->n == KX_F_PARTS_MAX)
		return 1;
	mb->off[mb->n] = mb->data.len;
	mb->len[mb->n] = s->len;
	if (kx_buf_append(&mb->data, s->wire, s->len) == -1)
		return 1;
	mb->n++;
	return 0;
}

static void
msgs_send(kx_node_t *n, struct peer *p, struct msgs_build *mb, bool more,
    bool even_empty)
{
	const uint8_t	*parts[KX_F_PARTS_MAX];
	kx_frame_t	 f;
	size_t		 i;

	if (mb->n == 0 && !more && !even_empty)
		return;
	for (i = 0; i < mb->n; i++)
		parts[i] = mb->data.data + mb->off[i];
	memset(&f, 0, sizeof(f));
	f.kind = KX_F_MSGS;
	f.flag = more;
	kx_buf_reset(&n->tmp);
	if (kx_frame_encode(&n->tmp, &f) == 0)
		peer_send(n, p, &n->tmp, parts, mb->len, mb->n);
}

/* ---- gossip: importing ----------------------------------------------- */

static void
fwd_queue(kx_node_t *n, const uint8_t *author, uint64_t seq, int src,
    bool fork)
{
	struct fwd	*nq;

	if (n->nfwd == n->fwdcap) {
		size_t	 cap = n->fwdcap ? n->fwdcap * 2 : 256;

		if ((nq = realloc(n->fwdq, cap * sizeof(*nq))) == NULL)
			return;	/* anti-entropy will carry it */
		n->fwdq = nq;
		n->fwdcap = cap;
	}
	memcpy(n->fwdq[n->nfwd].author, author, KX_PK_LEN);
	n->fwdq[n->nfwd].seq = seq;
	n->fwdq[n->nfwd].src = src;
	n->fwdq[n->nfwd].fork = fork;
	n->nfwd++;
}

static void
count_outcome(kx_node_t *n, const kx_result_t *r)
{
	static const struct {
		const char	*word;
		int		 c;
	} words[] = {
		{ "size", C_REJ_SIZE }, { "decode", C_REJ_DECODE },
		{ "version", C_REJ_VERSION }, { "admission", C_REJ_ADMISSION },
		{ "chain", C_REJ_CHAIN }, { "clock", C_REJ_CLOCK },
		{ "signature", C_REJ_SIGNATURE },
	};
	size_t	 i;

	switch (r->outcome) {
	case KX_ACCEPTED:	n->counters[C_ACCEPTED]++; return;
	case KX_INVALID:	n->counters[C_INVALID]++; return;
	case KX_DUPLICATE:	n->counters[C_DUPLICATE]++; return;
	case KX_HELD:		n->counters[C_HELD]++; return;
	case KX_FORK:		n->counters[C_FORK]++; return;
	case KX_REJECTED:
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strncmp(r->why.text, words[i].word,
			    strlen(words[i].word)) == 0) {
				n->counters[words[i].c]++;
				return;
			}
		n->counters[C_REJ_OTHER]++;
		return;
	}
}

struct release_ctx {
	kx_node_t	*n;
	int		 src;
	bool		 fresh;
};

static void
on_release(void *arg, const kx_result_t *r)
{
	struct release_ctx	*rc = arg;

	count_outcome(rc->n, r);
	if (rc->fresh && (r->outcome == KX_ACCEPTED ||
	    r->outcome == KX_INVALID))
		fwd_queue(rc->n, r->author, r->seq, rc->src, false);
}

static void
batch_end(kx_node_t *n)
{
	if (!n->in_batch)
		return;
	n->in_batch = false;
	if (kx_store_commit(n->st) != KX_OK) {
		log_warnx("store: commit failed; this turn's messages are "
		    "lost and will be fetched again");
		n->nfwd = 0;
	}
}

static void	forward_all(kx_node_t *);

/*
 * Imports one wire message from peer p (NULL: ourselves). fresh: it came
 * by eager push, so once accepted it is pushed on.
 */
static void
import_wire(kx_node_t *n, struct peer *p, const uint8_t *w, size_t len,
    bool fresh)
{
	struct release_ctx	 rc;
	kx_result_t		 r;
	kx_head_t		 h;
	kx_msg_t		 m;
	int			 src = p ? (int)(p - n->peers) : -1;

	if (!n->in_batch) {
		if (kx_store_begin(n->st) != KX_OK) {
			log_warnx("store: cannot begin a transaction");
			return;
		}
		n->in_batch = true;
	}
	rc.n = n;
	rc.src = src;
	rc.fresh = fresh;
	if (kx_store_import(n->st, w, len, now_ms(), &r, on_release, &rc) !=
	    KX_OK) {
		log_warnx("store: import failed; dropping this turn");
		kx_store_abort(n->st);
		n->in_batch = false;
		n->nfwd = 0;
		return;
	}
	count_outcome(n, &r);
	switch (r.outcome) {
	case KX_ACCEPTED:
	case KX_INVALID:
		if (fresh)
			fwd_queue(n, r.author, r.seq, src, false);
		if (kx_msg_decode(&m, w, len, NULL) == KX_OK &&
		    (strcmp(m.type, "member") == 0 ||
		    strcmp(m.type, "revoke") == 0))
			n->allow_dirty = true;
		break;
	case KX_HELD:
		/* ask the sender for the gap */
		if (p != NULL && kx_store_head(n->st, r.author, &h) >= 0 &&
		    r.seq > h.last_seq + 1) {
			kx_frame_t	 f;

			memset(&f, 0, sizeof(f));
			f.kind = KX_F_WANT;
			memcpy(f.author, r.author, KX_PK_LEN);
			f.from = h.last_seq + 1;
			f.count = r.seq - h.last_seq - 1;
			if (f.count > KX_WANT_MAX)
				f.count = KX_WANT_MAX;
			send_header_only(n, p, &f);
			p->asked_until = mono_ms() + ASK_MS;
		}
		break;
	case KX_FORK:
		log_warnx("fork: author %.16s... seq %" PRIu64 ": %s",
		    "", r.seq, r.why.text);
		fwd_queue(n, r.author, r.seq, src, true);
		break;
	case KX_REJECTED:
		if (p != NULL && (strncmp(r.why.text, "decode", 6) == 0 ||
		    strncmp(r.why.text, "size", 4) == 0 ||
		    strncmp(r.why.text, "version", 7) == 0 ||
		    strncmp(r.why.text, "signature", 9) == 0))
			peer_penalise(n, p, SCORE_INVALID, r.why.text);
		log_debug("rejected from %.16s: %s", p ? p->hex : "self",
		    r.why.text);
		break;
	case KX_DUPLICATE:
		break;
	}
}

/* ---- gossip: handling frames ----------------------------------------- */

static int
vec_entry_cmp(const void *a, const void *b)
{
	return memcmp(((const kx_vec_entry_t *)a)->author,
	    ((const kx_vec_entry_t *)b)->author, KX_PK_LEN);
}

struct serve_ctx {
	kx_node_t		*n;
	struct peer		*p;
	kx_vec_entry_t		*theirs;
	size_t			 ntheirs;
	bool			*matched;
	struct msgs_build	*mb;
	bool			 full;		/* budget used up */
	size_t			 sent;		/* messages queued so far */
	bool			 they_have_more;
};

static int
serve_author(void *arg, const uint8_t *author, const kx_head_t *h)
{
	struct serve_ctx	*sc = arg;
	kx_vec_entry_t		 key, *hit;
	uint64_t		 theirs = 0;
	int			 got;

	if (h->last_seq == 0)
		return 0;
	memcpy(key.author, author, KX_PK_LEN);
	hit = bsearch(&key, sc->theirs, sc->ntheirs, sizeof(key),
	    vec_entry_cmp);
	if (hit != NULL) {
		theirs = hit->seq;
		sc->matched[hit - sc->theirs] = true;
		if (theirs > h->last_seq)
			sc->they_have_more = true;
	}
	/*
	 * Send in frames of 256, up to SERVE_MAX per request, so that a
	 * node catching up imports (and commits) thousands per round trip.
	 */
	while (theirs < h->last_seq) {
		size_t	 want = KX_F_PARTS_MAX - sc->mb->n;

		if (sc->sent >= SERVE_MAX) {
			sc->full = true;	/* the rest next round */
			break;
		}
		if (want > SERVE_MAX - sc->sent)
			want = SERVE_MAX - sc->sent;
		got = kx_store_range(sc->n->st, author, theirs + 1, want,
		    msgs_add, sc->mb);
		if (got <= 0)
			break;
		theirs += (uint64_t)got;
		sc->sent += (size_t)got;
		if (sc->mb->n >= KX_F_PARTS_MAX) {
			msgs_send(sc->n, sc->p, sc->mb, false, false);
			sc->mb->n = 0;
			kx_buf_reset(&sc->mb->data);
		}
	}
	return 0;
}

static void
handle_vec(kx_node_t *n, struct peer *p, const kx_frame_t *f,
    zmq_msg_t *parts, size_t nparts)
{
	struct serve_ctx	 sc;
	struct msgs_build	*mb;
	struct vec_build	 ours;
	uint8_t			 digest[KX_ID_LEN];
	kx_why_t		 why;
	size_t			 i, k, got;

	memset(&sc, 0, sizeof(sc));
	if (vec_build(n, &ours, digest) == -1)
		return;
	free(ours.e);
	if (memcmp(digest, f->digest, KX_ID_LEN) == 0) {
		/* same heads: only answer, so the peer knows we are alive */
		if (f->flag) {
			struct msgs_build	 empty;

			memset(&empty, 0, sizeof(empty));
			msgs_send(n, p, &empty, false, true);
		}
		return;
	}
	if ((sc.theirs = calloc(nparts * KX_VEC_CHUNK + 1,
	    sizeof(*sc.theirs))) == NULL)
		return;
	for (i = 0; i < nparts; i++) {
		if (kx_vec_decode(sc.theirs + sc.ntheirs, &got,
		    zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]),
		    &why) != KX_OK) {
			n->counters[C_BAD_FRAME]++;
			peer_penalise(n, p, SCORE_INVALID, why.text);
			free(sc.theirs);
			return;
		}
		sc.ntheirs += got;
	}
	qsort(sc.theirs, sc.ntheirs, sizeof(*sc.theirs), vec_entry_cmp);
	if ((sc.matched = calloc(sc.ntheirs + 1, 1)) == NULL ||
	    (mb = calloc(1, sizeof(*mb))) == NULL) {
		free(sc.matched);
		free(sc.theirs);
		return;
	}
	kx_buf_init(&mb->data);
	sc.n = n;
	sc.p = p;
	sc.mb = mb;
	(void)kx_store_heads(n->st, serve_author, &sc);
	for (k = 0; k < sc.ntheirs; k++)
		if (!sc.matched[k] && sc.theirs[k].seq > 0)
			sc.they_have_more = true;
	if (mb->n > 0 || sc.full || f->flag)
		msgs_send(n, p, mb, sc.full, true);	/* also a pong */
	if (f->flag && sc.they_have_more)
		send_vec(n, p, false);
	kx_buf_free(&mb->data);
	free(mb);
	free(sc.matched);
	free(sc.theirs);
}

static void
handle_want(kx_node_t *n, struct peer *p, const kx_frame_t *f)
{
	struct msgs_build	*mb;
	size_t			 max = f->count;

	if ((mb = calloc(1, sizeof(*mb))) == NULL)
		return;
	kx_buf_init(&mb->data);
	if (max > KX_F_PARTS_MAX)
		max = KX_F_PARTS_MAX;
	if (kx_store_range(n->st, f->author, f->from, max, msgs_add, mb) > 0)
		msgs_send(n, p, mb, false, false);
	kx_buf_free(&mb->data);
	free(mb);
}

/* A whole gossip message from peer p: header and parts. */
static void
handle_frames(kx_node_t *n, struct peer *p, zmq_msg_t *parts, size_t np,
    size_t *budget)
{
	kx_frame_t	 f;
	kx_msg_t	 m;
	kx_why_t	 why;
	int64_t		 now = mono_ms();
	size_t		 i;

	p->rx++;
	if (!p->allowed) {
		n->counters[C_DENIED]++;
		return;
	}
	if (peer_banned(p, now)) {
		n->counters[C_DENIED]++;
		return;
	}
	if (np < 1 || kx_frame_decode(&f, zmq_msg_data(&parts[0]),
	    zmq_msg_size(&parts[0]), &why) != KX_OK) {
		n->counters[C_BAD_FRAME]++;
		peer_penalise(n, p, SCORE_INVALID, np < 1 ? "empty" : why.text);
		return;
	}
	switch (f.kind) {
	case KX_F_PUSH:
		if (np != 2) {
			n->counters[C_BAD_FRAME]++;
			peer_penalise(n, p, SCORE_INVALID, "push part count");
			return;
		}
		if (!bucket_take(&p->bucket, now)) {
			n->counters[C_RATE_PEER]++;
			p->dropped++;
			peer_penalise(n, p, SCORE_RATE, "over its rate");
			return;
		}
		if (kx_msg_decode(&m, zmq_msg_data(&parts[1]),
		    zmq_msg_size(&parts[1]), NULL) == KX_OK &&
		    !author_take(n, m.author, now)) {
			n->counters[C_RATE_AUTHOR]++;
			return;
		}
		import_wire(n, p, zmq_msg_data(&parts[1]),
		    zmq_msg_size(&parts[1]), true);
		(*budget)--;
		break;
	case KX_F_MSGS:
		if (p->asked_until < now) {
			n->counters[C_UNREQUESTED]++;
			peer_penalise(n, p, SCORE_UNASKED, "unrequested MSGS");
			return;
		}
		for (i = 1; i < np; i++)
			import_wire(n, p, zmq_msg_data(&parts[i]),
			    zmq_msg_size(&parts[i]), false);
		*budget -= np - 1 < *budget ? np - 1 : *budget;
		if (f.flag) {
			/* more to come: commit what we have, then ask again */
			batch_end(n);
			send_vec(n, p, false);
		}
		break;
	case KX_F_VEC:
	case KX_F_WANT:
		if (!bucket_take(&p->req_bucket, now)) {
			n->counters[C_RATE_PEER]++;
			peer_penalise(n, p, SCORE_RATE, "requests over rate");
			return;
		}
		batch_end(n);	/* serve what this turn already stored */
		if (f.kind == KX_F_WANT) {
			handle_want(n, p, &f);
			break;
		}
		handle_vec(n, p, &f, parts + 1, np - 1);
		break;
	case KX_F_FORK:
		if (np != 3) {
			n->counters[C_BAD_FRAME]++;
			peer_penalise(n, p, SCORE_INVALID, "fork part count");
			return;
		}
		import_wire(n, p, zmq_msg_data(&parts[1]),
		    zmq_msg_size(&parts[1]), false);
		import_wire(n, p, zmq_msg_data(&parts[2]),
		    zmq_msg_size(&parts[2]), false);
		break;
	}
}

/*
 * Reads one multipart message from s. Returns the number of parts
 * (0 when nothing was waiting), or -1 when it had more parts than fit
 * (the rest drained).
 */
static int
recv_parts(void *s, zmq_msg_t *parts, size_t max)
{
	size_t	 n = 0;
	int	 more = 1;

	while (more) {
		zmq_msg_t	*m;
		zmq_msg_t	 junk;

		m = n < max ? &parts[n] : &junk;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, s, n == 0 ? ZMQ_DONTWAIT : 0) == -1) {
			zmq_msg_close(m);
			if (n == 0)
				return 0;
			break;
		}
		more = zmq_msg_more(m);
		if (n < max)
			n++;
		else {
			zmq_msg_close(m);
			n = max + 1;
		}
	}
	if (n > max) {
		while (max > 0)
			zmq_msg_close(&parts[--max]);
		return -1;
	}
	return (int)n;
}

static void
close_parts(zmq_msg_t *parts, int n)
{
	while (n > 0)
		zmq_msg_close(&parts[--n]);
}

#define MAX_PARTS	(KX_F_PARTS_MAX + 2)

static void
read_router(kx_node_t *n, size_t *budget)
{
	static zmq_msg_t	 parts[MAX_PARTS + 1];
	struct peer		*p;
	const char		*user;
	uint8_t			 pk[KX_PK_LEN];
	int			 np;

	while (*budget > 0 && n->router != NULL &&
	    (np = recv_parts(n->router, parts, MAX_PARTS + 1)) != 0) {
		if (np < 0) {
			n->counters[C_BAD_FRAME]++;
			continue;
		}
		/* the ZAP user id (our hex of its key) rides on its frames */
		user = np >= 2 ? zmq_msg_gets(&parts[1], "User-Id") : NULL;
		if (user == NULL || kx_unhex(pk, KX_PK_LEN, user) == -1 ||
		    zmq_msg_size(&parts[0]) > sizeof(p->rid) ||
		    (p = peer_get(n, pk)) == NULL) {
			n->counters[C_BAD_FRAME]++;
			close_parts(parts, np);
			continue;
		}
		memcpy(p->rid, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]));
		p->rid_len = zmq_msg_size(&parts[0]);
		p->rid_seen_ms = mono_ms();
		n->reply_to = p;
		n->reply_dealer = false;
		handle_frames(n, p, parts + 1, (size_t)np - 1, budget);
		n->reply_to = NULL;
		close_parts(parts, np);
	}
}

static void
read_dealer(kx_node_t *n, struct peer *p, size_t *budget)
{
	static zmq_msg_t	 parts[MAX_PARTS];
	int			 np;

	while (*budget > 0 && p->dealer != NULL &&
	    (np = recv_parts(p->dealer, parts, MAX_PARTS)) != 0) {
		if (np < 0) {
			n->counters[C_BAD_FRAME]++;
			peer_penalise(n, p, SCORE_OVERSIZE, "too many parts");
			continue;
		}
		p->dealer_rx_ms = mono_ms();
		n->reply_to = p;
		n->reply_dealer = true;
		handle_frames(n, p, parts, (size_t)np, budget);
		n->reply_to = NULL;
		close_parts(parts, np);
	}
}

/* ---- pushing ------------------------------------------------------------ */

static void
forward_all(kx_node_t *n)
{
	const uint8_t	*parts[2];
	size_t		 lens[2], i;
	kx_frame_t	 f;
	int64_t		 now = mono_ms();
	int		 k;

	for (i = 0; i < n->nfwd; i++) {
		struct fwd	*q = &n->fwdq[i];

		kx_buf_reset(&n->tmp2);
		memset(&f, 0, sizeof(f));
		if (q->fork) {
			kx_buf_t	 b;

			kx_buf_init(&b);
			if (kx_store_fork(n->st, q->author, q->seq, &n->tmp2,
			    &b) != 1) {
				kx_buf_free(&b);
				continue;
			}
			/* both wires: copy b after a in tmp2 */
			lens[0] = n->tmp2.len;
			lens[1] = b.len;
			kx_buf_append(&n->tmp2, b.data, b.len);
			kx_buf_free(&b);
			f.kind = KX_F_FORK;
		} else {
			if (kx_store_get(n->st, q->author, q->seq, &n->tmp2,
			    NULL) != 1)
				continue;
			lens[0] = n->tmp2.len;
			f.kind = KX_F_PUSH;
		}
		if (n->tmp2.oom)
			continue;
		parts[0] = n->tmp2.data;
		parts[1] = n->tmp2.data + lens[0];
		kx_buf_reset(&n->tmp);
		if (kx_frame_encode(&n->tmp, &f) == -1)
			continue;
		for (k = 0; k < PEER_TABLE; k++) {
			if (k == q->src || !peer_reachable(n, &n->peers[k], now))
				continue;
			peer_send(n, &n->peers[k], &n->tmp, parts, lens,
			    q->fork ? 2 : 1);
		}
	}
	n->nfwd = 0;
}

/* ---- peer selection -------------------------------------------------- */

struct cand {
	uint8_t		 pk[KX_PK_LEN];
	char		 endpoint[256];
};

struct cand_build {
	kx_node_t	*n;
	struct cand	*c;
	size_t		 nc, cap;
};

static void
cand_add(struct cand_build *cb, const uint8_t *pk, const char *endpoint)
{
	struct cand	*nc;
	size_t		 i;

	if (memcmp(pk, cb->n->pk, KX_PK_LEN) == 0 || endpoint[0] == '\0')
		return;
	for (i = 0; i < cb->nc; i++)
		if (memcmp(cb->c[i].pk, pk, KX_PK_LEN) == 0)
			return;
	if (cb->nc == cb->cap) {
		cb->cap = cb->cap ? cb->cap * 2 : 64;
		if ((nc = realloc(cb->c, cb->cap * sizeof(*nc))) == NULL)
			return;
		cb->c = nc;
	}
	memcpy(cb->c[cb->nc].pk, pk, KX_PK_LEN);
	snprintf(cb->c[cb->nc].endpoint, sizeof(cb->c[cb->nc].endpoint), "%s",
	    endpoint);
	cb->nc++;
}

static int
cand_member(void *arg, const kx_member_t *m)
{
	cand_add(arg, m->node, m->endpoint);
	return 0;
}

/* Keeps up to max-peers outbound connections to admitted peers. */
static void
select_peers(kx_node_t *n)
{
	struct cand_build	 cb;
	struct peer		*p;
	int64_t			 now = mono_ms();
	size_t			 i, j, have = 0;
	int			 k;

	n->next_select = now + SELECT_MS;
	for (k = 0; k < PEER_TABLE; k++) {
		p = &n->peers[k];
		if (!p->used || p->dealer == NULL)
			continue;
		/*
		 * A DEALER that has heard nothing for a while (the peer is
		 * down, or its ZAP refused us before it knew we were a
		 * member, after which libzmq does not retry): start over.
		 */
		if (now - p->dealer_since > DEAD_MS &&
		    now - p->dealer_rx_ms > DEAD_MS) {
			log_debug("peer %.16s: silent; reconnecting", p->hex);
			peer_close(p);
			continue;
		}
		if (now - p->dealer_rx_ms > DEAD_MS / 2) {
			n->force_dealer = true;	/* a probe; always answered */
			send_vec(n, p, true);
			n->force_dealer = false;
		}
		have++;
	}
	if (have >= n->conf.max_peers)
		return;
	memset(&cb, 0, sizeof(cb));
	cb.n = n;
	for (i = 0; i < n->conf.npeers; i++)
		cand_add(&cb, n->conf.peers[i].pk, n->conf.peers[i].endpoint);
	(void)kx_store_members(n->st, now_ms(), cand_member, &cb);
	/* shuffle, then connect to the first that are free */
	for (i = cb.nc; i > 1; i--) {
		struct cand	 t;

		j = randombytes_uniform((uint32_t)i);
		t = cb.c[i - 1];
		cb.c[i - 1] = cb.c[j];
		cb.c[j] = t;
	}
	for (i = 0; i < cb.nc && have < n->conf.max_peers; i++) {
		if ((p = peer_get(n, cb.c[i].pk)) == NULL)
			break;
		if (p->dealer != NULL || peer_banned(p, now) || !p->allowed)
			continue;
		snprintf(p->endpoint, sizeof(p->endpoint), "%s",
		    cb.c[i].endpoint);
		for (j = 0; j < n->conf.npeers; j++)
			if (memcmp(n->conf.peers[j].pk, p->pk, KX_PK_LEN) == 0)
				p->configured = true;
		if (dealer_open(n, p) == 0) {
			have++;
			send_vec(n, p, true);	/* catch up at once */
		}
	}
	free(cb.c);
}

static void
anti_entropy(kx_node_t *n)
{
	int64_t	 now = mono_ms();
	int	 idx[PEER_TABLE], k, m = 0;

	n->next_ae = now + n->conf.gossip_interval_ms;
	for (k = 0; k < PEER_TABLE; k++)
		if (peer_reachable(n, &n->peers[k], now))
			idx[m++] = k;
	if (m == 0)
		return;
	send_vec(n, &n->peers[idx[randombytes_uniform((uint32_t)m)]], true);
}

/* ---- control socket ---------------------------------------------------- */

static void
ctl_reply(kx_node_t *n, zmq_msg_t *rid, bool ok, const kx_buf_t *body)
{
	const char	*st = ok ? "ok" : "error";

	zmq_send(n->control, zmq_msg_data(rid), zmq_msg_size(rid),
	    ZMQ_SNDMORE);
	zmq_send(n->control, "", 0, ZMQ_SNDMORE);
	zmq_send(n->control, st, strlen(st), ZMQ_SNDMORE);
	zmq_send(n->control, body->data ? (const char *)body->data : "",
	    body->len, 0);
}

static int
status_head(void *arg, const uint8_t *author, const kx_head_t *h)
{
	kx_buf_t	*b = arg;

	if (b->len > 0 && b->data[b->len - 1] != '[')
		kx_buf_putc(b, ',');
	kx_buf_puts(b, "{\"author\":\"");
	kx_buf_hex(b, author, KX_PK_LEN);
	kx_buf_printf(b, "\",\"seq\":%" PRIu64 ",\"held\":%u,\"frozen\":%s}",
	    h->last_seq, h->nheld, h->frozen_seq ? "true" : "false");
	return 0;
}

static void
ctl_status(kx_node_t *n, kx_buf_t *b)
{
	int64_t		 now = mono_ms();
	uint64_t	 msgs = 0, held = 0, forks = 0;
	int		 k, first = 1, i;

	(void)kx_store_counts(n->st, &msgs, &held, &forks);
	kx_buf_printf(b, "{\"node\":\"%s\",\"role\":\"%s\",\"listen\":\"%s\","
	    "\"messages\":%" PRIu64 ",\"held\":%" PRIu64 ",\"forks\":%" PRIu64
	    ",\"peers\":[", n->hex, kx_role_name((kx_role_t)n->conf.role),
	    n->conf.listen, msgs, held, forks);
	for (k = 0; k < PEER_TABLE; k++) {
		struct peer	*p = &n->peers[k];

		if (!p->used)
			continue;
		kx_buf_printf(b, "%s{\"node\":\"%s\",\"endpoint\":\"%s\","
		    "\"outbound\":%s,\"inbound\":%s,\"allowed\":%s,"
		    "\"score\":%d,\"banned\":%s,\"rx\":%" PRIu64 ",\"tx\":%"
		    PRIu64 ",\"dropped\":%" PRIu64 "}", first ? "" : ",",
		    p->hex, p->endpoint, p->dealer ? "true" : "false",
		    p->rid_len > 0 && now - p->rid_seen_ms < INBOUND_IDLE_MS ?
		    "true" : "false", p->allowed ? "true" : "false", p->score,
		    peer_banned(p, now) ? "true" : "false", p->rx, p->tx,
		    p->dropped);
		first = 0;
	}
	kx_buf_puts(b, "],\"counters\":{");
	for (i = 0; i < C_COUNT; i++)
		kx_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "",
		    counter_names[i], n->counters[i]);
	kx_buf_puts(b, "},\"meters\":");
	kx_meterd_status(n->meters, b);
	kx_buf_puts(b, ",\"market\":");
	kx_mktd_status(n->mkt, b);
	{
		uint64_t	 placed, skipped;

		kx_autobid_counts(n->autobid, &placed, &skipped);
		kx_buf_printf(b, ",\"autobid\":{\"on\":%s,\"placed\":%"
		    PRIu64 ",\"sells_skipped_unmeasured\":%" PRIu64 "}",
		    n->autobid ? "true" : "false", placed, skipped);
	}
	kx_buf_puts(b, ",\"heads\":[");
	(void)kx_store_heads(n->st, status_head, b);
	kx_buf_puts(b, "]}");
}

/*
 * Signs and appends an own message, queues it for the peers and, when
 * reply is not NULL, appends {"seq":N,"id":"..."} to it. 0, or -1 with
 * the reason in why.
 */
static int
publish_own(kx_node_t *n, const char *type, const uint8_t *body, size_t len,
    kx_buf_t *reply, kx_why_t *why)
{
	kx_buf_t	 wire;
	kx_msg_t	 m;
	int		 rc, r = -1;

	kx_buf_init(&wire);
	batch_end(n);
	rc = kx_store_append_own(n->st, n->sk, type, body, len, now_ms(),
	    &wire, why);
	if (rc == KX_OK && kx_msg_decode(&m, wire.data, wire.len, NULL) ==
	    KX_OK) {
		n->counters[C_PUBLISHED]++;
		if (reply != NULL) {
			kx_buf_printf(reply, "{\"seq\":%" PRIu64 ",\"id\":\"",
			    m.seq);
			kx_buf_hex(reply, m.id, KX_ID_LEN);
			kx_buf_puts(reply, "\"}");
		}
		fwd_queue(n, n->pk, m.seq, -1, false);
		if (strcmp(type, "member") == 0 || strcmp(type, "revoke") == 0)
			n->allow_dirty = true;
		r = 0;
	} else if (rc == KX_OK)
		kx_why_set(why, "internal error: own message does not decode");
	kx_buf_free(&wire);
	return r;
}

static int
mkt_publish(void *ctx, const char *type, const uint8_t *body, size_t len,
    char *err, size_t errlen)
{
	kx_why_t	 why;

	if (publish_own(ctx, type, body, len, NULL, &why) == -1) {
		snprintf(err, errlen, "%s", why.text);
		return -1;
	}
	return 0;
}

static void
mkt_want_sync(void *ctx)
{
	kx_node_t	*n = ctx;
	int64_t		 soon = mono_ms() + 200;

	if (n->next_ae > soon)
		n->next_ae = soon;
}

/* One admitted member as JSON, for the "members" request. */
static int
member_json(void *arg, const kx_member_t *m)
{
	kx_buf_t	*b = arg;
	const char	*e;

	if (b->len > 0 && b->data[b->len - 1] != '[')
		kx_buf_putc(b, ',');
	kx_buf_puts(b, "{\"node\":\"");
	kx_buf_hex(b, m->node, KX_PK_LEN);
	kx_buf_printf(b, "\",\"role\":\"%s\",\"until\":%" PRId64
	    ",\"endpoint\":\"", kx_role_name(m->role), m->until);
	for (e = m->endpoint; *e != '\0'; e++)	/* stored printable */
		if (*e != '"' && *e != '\\' && (unsigned char)*e >= 0x20)
			kx_buf_putc(b, *e);
	kx_buf_puts(b, "\"}");
	return 0;
}

static int
log_one(void *arg, const kx_stored_t *s)
{
	kx_buf_t	*b = arg;

	if (kx_stored_json(b, s) == 0)
		kx_buf_putc(b, '\n');
	return 0;
}

static void
ctl_handle(kx_node_t *n)
{
	zmq_msg_t	 parts[8];
	kx_buf_t	 b;
	kx_why_t	 why;
	uint8_t		 author[KX_PK_LEN];
	char		 type[KX_TYPE_MAX + 1];
	int		 np;
	bool		 ok = true;

	if ((np = recv_parts(n->control, parts, 8)) <= 0)
		return;
	kx_buf_init(&b);
	if (np < 3) {
		close_parts(parts, np);
		return;
	}
#define ARG_IS(i, s) (zmq_msg_size(&parts[i]) == strlen(s) && \
	memcmp(zmq_msg_data(&parts[i]), s, strlen(s)) == 0)
	if (ARG_IS(2, "status") && np == 3)
		ctl_status(n, &b);
	else if (ARG_IS(2, "publish") && np == 5 &&
	    zmq_msg_size(&parts[3]) <= KX_TYPE_MAX &&
	    zmq_msg_size(&parts[3]) > 0) {
		memcpy(type, zmq_msg_data(&parts[3]), zmq_msg_size(&parts[3]));
		type[zmq_msg_size(&parts[3])] = '\0';
		if (publish_own(n, type, zmq_msg_data(&parts[4]),
		    zmq_msg_size(&parts[4]), &b, &why) == -1) {
			ok = false;
			kx_buf_reset(&b);
			kx_buf_puts(&b, why.text);
		}
	} else if (ARG_IS(2, "ledger") && (np == 3 || (np == 4 &&
	    zmq_msg_size(&parts[3]) > 0 && zmq_msg_size(&parts[3]) <=
	    2 * KX_PK_LEN))) {
		char	 acct[2 * KX_PK_LEN + 1];

		if (np == 4) {
			memcpy(acct, zmq_msg_data(&parts[3]),
			    zmq_msg_size(&parts[3]));
			acct[zmq_msg_size(&parts[3])] = '\0';
		}
		batch_end(n);
		if (kx_mktd_ledger(n->mkt, np == 4 ? acct : NULL, &b) == -1) {
			ok = false;
			kx_buf_reset(&b);
			kx_buf_puts(&b, "ledger read failed");
		}
	} else if (ARG_IS(2, "bill") && np == 5 &&
	    zmq_msg_size(&parts[3]) == 8 && zmq_msg_size(&parts[4]) == 8) {
		uint64_t	 from = 0, to = 0;
		kx_bill_t	 bl;
		const uint8_t	*f = zmq_msg_data(&parts[3]);
		const uint8_t	*t = zmq_msg_data(&parts[4]);
		int		 i;

		for (i = 0; i < 8; i++) {	/* big-endian unix seconds */
			from = from << 8 | f[i];
			to = to << 8 | t[i];
		}
		if (kx_bill(n->st, n->meters, n->pk, from, to, &bl) == -1) {
			ok = false;
			kx_buf_puts(&b, "bill: read failed");
		} else
			kx_bill_json(&bl, &b);
	} else if (ARG_IS(2, "members") && np == 3) {
		kx_buf_puts(&b, "[");
		if (kx_store_members(n->st, now_ms(), member_json, &b) !=
		    KX_OK) {
			ok = false;
			kx_buf_reset(&b);
			kx_buf_puts(&b, "store read failed");
		} else
			kx_buf_puts(&b, "]");
	} else if (ARG_IS(2, "log") && (np == 3 || (np == 4 &&
	    zmq_msg_size(&parts[3]) == 2 * KX_PK_LEN))) {
		batch_end(n);
		if (np == 4) {
			char	 hex[2 * KX_PK_LEN + 1];

			memcpy(hex, zmq_msg_data(&parts[3]), 2 * KX_PK_LEN);
			hex[2 * KX_PK_LEN] = '\0';
			if (kx_unhex(author, KX_PK_LEN, hex) == -1) {
				ok = false;
				kx_buf_puts(&b, "bad author");
			}
		}
		if (ok && kx_store_foreach(n->st, np == 4 ? author : NULL,
		    log_one, &b) != KX_OK) {
			ok = false;
			kx_buf_reset(&b);
			kx_buf_puts(&b, "store read failed");
		}
	} else if (ARG_IS(2, "summary") && np <= 4) {	/* node/sumd.c */
		batch_end(n);
		if (kx_sumd_find(n->st, np == 4 ? zmq_msg_data(&parts[3]) :
		    NULL, np == 4 ? zmq_msg_size(&parts[3]) : 0, &b) == -1) {
			ok = false;
			kx_buf_reset(&b);
			kx_buf_puts(&b, "bad day, or store read failed");
		}
	} else if (ARG_IS(2, "community") && np == 5) {	/* communityd.c */
		batch_end(n);
		ok = kx_commd_request(n->st, n->pk, zmq_msg_data(&parts[3]),
		    zmq_msg_size(&parts[3]), zmq_msg_data(&parts[4]),
		    zmq_msg_size(&parts[4]), now_ms(), mkt_publish, n, &b) == 0;
	} else if (kx_privacy_ctl(n->conf.data_dir, &parts[2], np - 2, &b,
	    &ok)) {
		/* consent, disclosures, disclose: node/privacy.c */
	} else {
		ok = false;
		kx_buf_puts(&b, "unknown request");
	}
#undef ARG_IS
	ctl_reply(n, &parts[0], ok && !b.oom, &b);
	kx_buf_free(&b);
	close_parts(parts, np);
}

/* ---- setup and the loop ---------------------------------------------- */

static int
load_key(kx_node_t *n, char *err, size_t errlen)
{
	char		 path[4200];
	kx_why_t	 why;
	uint8_t		 pk[KX_PK_LEN];

	snprintf(path, sizeof(path), "%s/node.key", n->conf.data_dir);
	if (access(path, F_OK) == -1) {
		if (kx_key_generate(n->conf.data_dir, pk, &why) == -1) {
			snprintf(err, errlen, "%s", why.text);
			return -1;
		}
		kx_hex(n->hex, pk, KX_PK_LEN);
		log_info("created identity %s in %s", n->hex,
		    n->conf.data_dir);
	}
	if (kx_key_load(path, n->sk, &why) == -1) {
		snprintf(err, errlen, "%s", why.text);
		return -1;
	}
	memcpy(n->pk, n->sk + 32, KX_PK_LEN);
	kx_hex(n->hex, n->pk, KX_PK_LEN);
	if (crypto_sign_ed25519_sk_to_curve25519(n->csk, n->sk) != 0 ||
	    crypto_sign_ed25519_pk_to_curve25519(n->cpk, n->pk) != 0) {
		snprintf(err, errlen, "%s: key cannot be used for CURVE", path);
		return -1;
	}
	return 0;
}

/* The Prometheus exposition of the node's state (metrics.h). */
static void
metrics_body(kx_node_t *n, kx_buf_t *b)
{
	kx_mktd_counts_t	 mc;
	kx_poll_stats_t		 ps;
	uint64_t		 msgs = 0, held = 0, forks = 0;
	int64_t			 now = mono_ms();
	size_t			 i;
	int			 k, out = 0, in = 0, banned = 0;
	char			 lab[128];

	kx_metrics_head(b, "kaga_node_events_total", "counter", "messages "
	    "admitted and rejected by reason, and other node events");
	for (i = 0; i < C_COUNT; i++) {
		snprintf(lab, sizeof(lab), "event=\"%s\"", counter_names[i]);
		kx_metrics_sample(b, "kaga_node_events_total", lab,
		    (long long)n->counters[i]);
	}
	(void)kx_store_counts(n->st, &msgs, &held, &forks);
	kx_metrics_head(b, "kaga_store_messages", "gauge", "stored messages");
	kx_metrics_sample(b, "kaga_store_messages", NULL, (long long)msgs);
	kx_metrics_head(b, "kaga_store_held", "gauge", "messages held for a "
	    "gap");
	kx_metrics_sample(b, "kaga_store_held", NULL, (long long)held);
	kx_metrics_head(b, "kaga_store_forks", "gauge", "fork proofs");
	kx_metrics_sample(b, "kaga_store_forks", NULL, (long long)forks);
	for (k = 0; k < PEER_TABLE; k++) {
		if (!n->peers[k].used)
			continue;
		out += n->peers[k].dealer != NULL;
		in += n->peers[k].rid_len > 0 &&
		    now - n->peers[k].rid_seen_ms < INBOUND_IDLE_MS;
		banned += peer_banned(&n->peers[k], now);
	}
	kx_metrics_head(b, "kaga_peers", "gauge", "peers by state");
	kx_metrics_sample(b, "kaga_peers", "state=\"outbound\"", out);
	kx_metrics_sample(b, "kaga_peers", "state=\"inbound\"", in);
	kx_metrics_sample(b, "kaga_peers", "state=\"banned\"", banned);
	if (kx_meterd_count(n->meters) > 0) {
		kx_metrics_head(b, "kaga_meter_online", "gauge", "1 when the "
		    "meter's last pass gave a reading");
		for (i = 0; i < kx_meterd_count(n->meters); i++)
			if (kx_meterd_snapshot(n->meters, i, &ps, NULL, NULL,
			    NULL) == 0) {
				snprintf(lab, sizeof(lab), "meter=\"%s\"",
				    n->conf.meters[i].name);
				kx_metrics_sample(b, "kaga_meter_online", lab,
				    ps.online);
			}
		kx_metrics_head(b, "kaga_meter_requests_total", "counter",
		    "Modbus read attempts");
		kx_metrics_head(b, "kaga_meter_errors_total", "counter",
		    "failed Modbus read attempts");
		for (i = 0; i < kx_meterd_count(n->meters); i++)
			if (kx_meterd_snapshot(n->meters, i, &ps, NULL, NULL,
			    NULL) == 0) {
				snprintf(lab, sizeof(lab), "meter=\"%s\"",
				    n->conf.meters[i].name);
				kx_metrics_sample(b, "kaga_meter_requests_total",
				    lab, (long long)ps.requests);
				kx_metrics_sample(b, "kaga_meter_errors_total",
				    lab, (long long)ps.errors);
			}
	}
	if (kx_mktd_counts(n->mkt, &mc) == 0) {
		kx_metrics_head(b, "kaga_market_slots_total", "counter",
		    "market duties done, by kind");
		kx_metrics_sample(b, "kaga_market_slots_total",
		    "kind=\"cleared\"", (long long)mc.cleared);
		kx_metrics_sample(b, "kaga_market_slots_total",
		    "kind=\"settled\"", (long long)mc.settled);
		kx_metrics_sample(b, "kaga_market_slots_total",
		    "kind=\"reading_sent\"", (long long)mc.readings_sent);
		kx_metrics_sample(b, "kaga_market_slots_total",
		    "kind=\"clear_agreed\"", (long long)mc.clears_agreed);
		kx_metrics_sample(b, "kaga_market_slots_total",
		    "kind=\"settle_agreed\"", (long long)mc.settles_agreed);
		kx_metrics_head(b, "kaga_market_disputes_total", "counter",
		    "clearing and settlement disputes recorded");
		kx_metrics_sample(b, "kaga_market_disputes_total", NULL,
		    (long long)mc.disputes);
	}
	{
		kx_buf_t	 lj;
		const char	*p;

		/* ledger totals: the balances of the operator and the grid */
		kx_buf_init(&lj);
		if (kx_mktd_ledger(n->mkt, NULL, &lj) == 0 &&
		    kx_buf_cstr(&lj) == 0 &&
		    (p = strstr((char *)lj.data, "\"balances\":{")) != NULL) {
			const char	*acc[2] = { "operator", "grid" };
			char		 pat[32];
			const char	*q;

			kx_metrics_head(b, "kaga_ledger_balance_millisen",
			    "gauge", "ledger balance of the operator and the "
			    "grid accounts");
			for (k = 0; k < 2; k++) {
				snprintf(pat, sizeof(pat), "\"%s\":", acc[k]);
				snprintf(lab, sizeof(lab), "account=\"%s\"",
				    acc[k]);
				q = strstr(p, pat);
				kx_metrics_sample(b,
				    "kaga_ledger_balance_millisen", lab, q ?
				    strtoll(q + strlen(pat), NULL, 10) : 0);
			}
		}
		kx_buf_free(&lj);
	}
}

kx_node_t *
kx_node_new(const kx_conf_t *conf, char *err, size_t errlen)
{
	kx_node_t	*n;
	kx_why_t	 why;
	size_t		 i;
	mode_t		 old;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	kx_buf_init(&n->tmp);
	kx_buf_init(&n->tmp2);
	n->metrics_fd = -1;
	if (kx_conf_copy(&n->conf, conf) == -1 ||
	    (n->abuckets = calloc(AUTHOR_TABLE, sizeof(*n->abuckets))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir(n->conf.data_dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", n->conf.data_dir,
		    strerror(errno));
		goto fail;
	}
	if (load_key(n, err, errlen) == -1)
		goto fail;
	{
		char	 sdir[4200];

		snprintf(sdir, sizeof(sdir), "%s/store", n->conf.data_dir);
		if ((n->st = kx_store_open(sdir, 0, &why)) == NULL) {
			snprintf(err, errlen, "%s", why.text);
			goto fail;
		}
	}
	for (i = 0; i < n->conf.noperators; i++)
		if (kx_store_add_operator(n->st, n->conf.operators[i]) !=
		    KX_OK) {
			snprintf(err, errlen, "store: cannot record operator "
			    "keys");
			goto fail;
		}
	allow_rebuild(n);
	{
		/* meter slots are market slots: the length in force now */
		kx_params_t	 p;
		size_t		 mi;

		if (kx_store_params(n->st, (uint64_t)now_ms() / 1000, &p) ==
		    KX_OK && p.slot_s > 0 && p.slot_s <= 86400)
			for (mi = 0; mi < n->conf.nmeters; mi++)
				n->conf.meters[mi].poll.slot.slot_s =
				    (int)p.slot_s;
	}
	if ((n->meters = kx_meterd_new(&n->conf, err, errlen)) == NULL)
		goto fail;
	{
		kx_mktd_conf_t	 mc;

		memset(&mc, 0, sizeof(mc));
		mc.dir = n->conf.data_dir;
		mc.st = n->st;
		mc.md = n->meters;
		mc.sk = n->sk;
		mc.pk = n->pk;
		mc.csk = n->csk;
		mc.cpk = n->cpk;
		mc.op = n->conf.operators[0];
		mc.is_operator = kx_store_is_operator(n->st, n->pk);
		mc.settle_delay_ms = (int64_t)n->conf.settle_delay_s * 1000;
		mc.verify_wait_ms = 5 * (int64_t)n->conf.gossip_interval_ms;
		if (mc.verify_wait_ms < 5000)
			mc.verify_wait_ms = 5000;
		mc.start_ms = now_ms();
		mc.publish = mkt_publish;
		mc.want_sync = mkt_want_sync;
		mc.ctx = n;
		if ((n->mkt = kx_mktd_open(&mc, err, errlen)) == NULL)
			goto fail;
		n->autobid = kx_autobid_new(&n->conf, n->st, n->meters,
		    n->pk, mkt_publish, n);
	}
	if ((n->ctx = zmq_ctx_new()) == NULL) {
		snprintf(err, errlen, "zmq: %s", zmq_strerror(errno));
		goto fail;
	}
	/* the ZAP handler first: without it libzmq admits every client */
	if ((n->zap = zmq_socket(n->ctx, ZMQ_REP)) == NULL ||
	    zmq_bind(n->zap, ZAP_ENDPOINT) == -1) {
		snprintf(err, errlen, "zap: %s", zmq_strerror(errno));
		goto fail;
	}
	snprintf(n->control_path, sizeof(n->control_path),
	    "ipc://%s/control.sock", n->conf.data_dir);
	old = umask(077);
	if ((n->control = zmq_socket(n->ctx, ZMQ_ROUTER)) == NULL ||
	    zmq_bind(n->control, n->control_path) == -1) {
		umask(old);
		snprintf(err, errlen, "%s: %s", n->control_path,
		    zmq_strerror(errno));
		goto fail;
	}
	umask(old);
	chmod(n->control_path + 6, 0600);
	if (n->conf.metrics_listen[0] != '\0' && (n->metrics_fd =
	    kx_metrics_listen(n->conf.metrics_listen, err, errlen)) == -1)
		goto fail;
	if (router_open(n) == -1) {
		snprintf(err, errlen, "%s: %s", n->conf.listen,
		    zmq_strerror(errno));
		goto fail;
	}
	n->next_ae = mono_ms() + n->conf.gossip_interval_ms;
	n->next_select = mono_ms();
	log_info("node %s (%s) listening on %s", n->hex,
	    kx_role_name((kx_role_t)n->conf.role),
	    n->conf.listen[0] ? n->conf.listen : "(nothing)");
	return n;
fail:
	kx_node_destroy(&n);
	return NULL;
}

/* Whether the meter and point lines of a and b differ. */
static bool
meters_differ(const kx_conf_t *a, const kx_conf_t *b)
{
	size_t	 i;

	if (a->nmeters != b->nmeters || a->nprofiles != b->nprofiles ||
	    memcmp(a->meters, b->meters, a->nmeters * sizeof(a->meters[0])))
		return true;
	for (i = 0; i < a->nprofiles; i++)
		if (strcmp(a->profiles[i].name, b->profiles[i].name) != 0 ||
		    a->profiles[i].npoints != b->profiles[i].npoints ||
		    memcmp(a->profiles[i].points, b->profiles[i].points,
		    a->profiles[i].npoints * sizeof(kx_point_t)) != 0)
			return true;
	return false;
}

void
kx_node_reload(kx_node_t *n, const kx_conf_t *conf)
{
	kx_conf_t	 old;
	int		 k;

	memset(&old, 0, sizeof(old));
	if (strcmp(conf->data_dir, n->conf.data_dir) != 0 ||
	    strcmp(conf->listen, n->conf.listen) != 0 ||
	    conf->role != n->conf.role)
		log_warnx("reload: data-dir, listen and role need a restart; "
		    "keeping the old ones");
	if (meters_differ(conf, &n->conf))
		log_warnx("reload: meter and point lines need a restart; "
		    "still polling the old meters");
	if (kx_conf_copy(&old, &n->conf) == -1)
		return;
	if (kx_conf_copy(&n->conf, conf) == -1) {
		log_warnx("reload: out of memory");
		kx_conf_free(&old);
		return;
	}
	snprintf(n->conf.data_dir, sizeof(n->conf.data_dir), "%s",
	    old.data_dir);
	snprintf(n->conf.listen, sizeof(n->conf.listen), "%s", old.listen);
	n->conf.role = old.role;
	kx_conf_free(&old);
	for (k = 0; k < PEER_TABLE; k++)
		if (n->peers[k].used) {
			n->peers[k].bucket.rate = n->conf.peer_rate;
			n->peers[k].bucket.burst = n->conf.peer_burst;
		}
	memset(n->abuckets, 0, AUTHOR_TABLE * sizeof(*n->abuckets));
	allow_rebuild(n);
	n->next_select = mono_ms();
	log_info("configuration reloaded: %zu peers, %zu operators",
	    n->conf.npeers, n->conf.noperators);
}

int
kx_node_run(kx_node_t *n)
{
	zmq_pollitem_t	 items[4 + PEER_TABLE];
	int		 map[4 + PEER_TABLE];
	int64_t		 now, next;
	size_t		 budget;
	int		 ni, k, rc, timeout;

	while (!kx_quit) {
		if (kx_reload) {
			kx_conf_t	 c;
			char		 err[512];

			kx_reload = 0;
			memset(&c, 0, sizeof(c));
			if (kx_conf_load(&c, n->conf.path, err,
			    sizeof(err)) == -1)
				log_warnx("reload: %s; keeping the running "
				    "configuration", err);
			else
				kx_node_reload(n, &c);
			kx_conf_free(&c);
		}
		now = mono_ms();
		if (n->rebind)
			router_rebind(n);
		if (n->allow_dirty || now >= n->next_allow)
			allow_rebuild(n);
		if (now >= n->next_select)
			select_peers(n);
		if (now >= n->next_ae)
			anti_entropy(n);
		if (now >= n->next_params) {
			kx_params_t	 mp;

			/* meter slots follow the market's slot length */
			n->next_params = now + 1000;
			if (kx_store_params(n->st, (uint64_t)now_ms() / 1000,
			    &mp) == KX_OK && mp.slot_s > 0 &&
			    mp.slot_s <= 86400)
				kx_meterd_set_slot_s(n->meters, (int)mp.slot_s);
		}
		kx_mktd_tick(n->mkt, now_ms());
		kx_autobid_tick(n->autobid, now_ms());
		next = n->next_ae < n->next_select ? n->next_ae :
		    n->next_select;
		if (n->next_allow < next)
			next = n->next_allow;
		if (now + 250 < next)	/* market duties */
			next = now + 250;
		timeout = next > now ? (int)(next - now) : 0;

		ni = 0;
		items[ni].socket = n->zap;
		items[ni].events = ZMQ_POLLIN;
		map[ni++] = -1;
		items[ni].socket = n->control;
		items[ni].events = ZMQ_POLLIN;
		map[ni++] = -2;
		if (n->router != NULL) {
			items[ni].socket = n->router;
			items[ni].events = ZMQ_POLLIN;
			map[ni++] = -3;
		}
		if (n->metrics_fd != -1) {
			items[ni].socket = NULL;
			items[ni].fd = n->metrics_fd;
			items[ni].events = ZMQ_POLLIN;
			map[ni++] = -4;
		}
		for (k = 0; k < PEER_TABLE; k++)
			if (n->peers[k].used && n->peers[k].dealer != NULL) {
				items[ni].socket = n->peers[k].dealer;
				items[ni].events = ZMQ_POLLIN;
				map[ni++] = k;
			}
		for (k = 0; k < ni; k++)
			if (map[k] != -4)
				items[k].fd = 0;
		rc = zmq_poll(items, ni, timeout);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			log_warn("zmq_poll");
			return -1;
		}
		budget = TURN_BUDGET;
		for (k = 0; k < ni; k++) {
			if (!(items[k].revents & ZMQ_POLLIN))
				continue;
			if (map[k] == -1)
				zap_handle(n);
			else if (map[k] == -2)
				ctl_handle(n);
			else if (map[k] == -3)
				read_router(n, &budget);
			else if (map[k] == -4) {
				kx_buf_t	 mb;

				kx_buf_init(&mb);
				metrics_body(n, &mb);
				(void)kx_metrics_serve(n->metrics_fd, &mb);
				kx_buf_free(&mb);
			}
			else
				read_dealer(n, &n->peers[map[k]], &budget);
		}
		batch_end(n);
		forward_all(n);
	}
	batch_end(n);
	log_info("stopping: store committed");
	return 0;
}

void
kx_node_destroy(kx_node_t **np)
{
	kx_node_t	*n;
	int		 k;

	if (np == NULL || (n = *np) == NULL)
		return;
	if (n->in_batch)
		batch_end(n);
	for (k = 0; k < PEER_TABLE; k++)
		peer_close(&n->peers[k]);
	if (n->router != NULL)
		zmq_close(n->router);
	if (n->control != NULL) {
		zmq_close(n->control);
		unlink(n->control_path + 6);
	}
	if (n->zap != NULL)
		zmq_close(n->zap);
	if (n->ctx != NULL)
		zmq_ctx_term(n->ctx);
	if (n->metrics_fd != -1)
		close(n->metrics_fd);
	kx_autobid_free(&n->autobid);
	kx_mktd_close(&n->mkt);
	kx_meterd_destroy(&n->meters);
	kx_store_close(&n->st);
	kx_conf_free(&n->conf);
	sodium_memzero(n->sk, sizeof(n->sk));
	sodium_memzero(n->csk, sizeof(n->csk));
	free(n->allow);
	free(n->abuckets);
	free(n->fwdq);
	kx_buf_free(&n->tmp);
	kx_buf_free(&n->tmp2);
	free(n);
	*np = NULL;
}
