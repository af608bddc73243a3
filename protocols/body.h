/*
 * body.h - message bodies of PROTOCOL.md section 5: schemas and the
 * parts of step 7 that need no federation state.
 *
 * kx_body_parse() reads a decoded message's body into a typed struct,
 * checking types, sizes, ranges, monotone price curves and the rules that
 * depend only on the market parameters given (the defaults for a lone
 * message, the ones in force where a store knows them). Who may author
 * what is judged by kx_body_authority() from the author's role, which
 * only a store knows. Pure: no sockets, no disk. Parsed fields borrow from
 * the message's bytes.
 */
#ifndef KX_BODY_H
#define KX_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "envelope.h"

#define KX_PRICE_MAX	1000000u	/* sen per kWh */
#define KX_WH_STEP_MAX	10000000u	/* Wh in one order step */
#define KX_STEPS_MAX	16		/* steps in one order */
#define KX_LIST_MAX	512		/* entries in fills, lines, in */
#define KX_SEAL_MIN	49		/* crypto_box_SEALBYTES + 1 */
#define KX_SEAL_MAX	1024

typedef enum {
	KX_T_UNKNOWN = 0,	/* stored and forwarded, not interpreted */
	KX_T_MEMBER,
	KX_T_REVOKE,
	KX_T_MARKET,
	KX_T_ORDER,
	KX_T_CANCEL,
	KX_T_CLEAR,
	KX_T_READING,
	KX_T_SETTLE,
	KX_T_ISSUE,
	KX_T_PAY,
	KX_T_LISTING,
	KX_T_SUMMARY
} kx_type_t;

typedef enum {
	KX_ROLE_NONE = 0,	/* not admitted */
	KX_ROLE_HOUSEHOLD,
	KX_ROLE_RYOKAN,
	KX_ROLE_FARM,
	KX_ROLE_BUSINESS,
	KX_ROLE_OPERATOR,
	KX_ROLE_ISSUER,
	KX_ROLE_MERCHANT,
	KX_ROLE_CITY
} kx_role_t;

enum { KX_BUY = 0, KX_SELL = 1 };
enum { KX_CUR_HEALTH = 0, KX_CUR_TIME = 1 };
enum { KX_OFFER = 0, KX_WANT = 1 };

/* Market parameters (section 5.1 `market`). */
typedef struct {
	uint64_t	from;		/* first slot they apply to */
	uint64_t	slot_s;		/* slot length, s */
	uint64_t	gate_s;		/* gate closes this long before a slot */
	uint32_t	floor;		/* buy-back price, sen/kWh */
	uint32_t	ceiling;	/* retail price */
	uint32_t	fee;		/* network charge on a local trade */
	uint64_t	time_limit;	/* lowest time-bank balance, minutes */
	int64_t		pt_value;	/* one health point, milli-sen */
} kx_params_t;

typedef struct {
	kx_type_t	 type;
	union {
		struct {
			const uint8_t	*node;
			kx_role_t	 role;
			int64_t		 until;	/* ms, 0 = no end */
			uint64_t	 cap;	/* issuers only */
			const uint8_t	*endpoint;	/* NULL if absent */
			uint32_t	 endpoint_len;
		} member;
		struct {
			const uint8_t	*node;
		} revoke;
		kx_params_t	 market;
		struct {
			uint64_t	 slot;
			int		 side;	/* KX_BUY or KX_SELL */
			uint32_t	 n;
			uint64_t	 wh[KX_STEPS_MAX];
			uint32_t	 price[KX_STEPS_MAX];
		} order;
		struct {
			const uint8_t	*order;	/* id */
		} cancel;
		struct {
			uint64_t	 slot;
			const uint8_t	*set;
			bool		 has_price;
			uint32_t	 price;
			uint64_t	 volume;
			uint32_t	 n;
			const uint8_t	*id[KX_LIST_MAX];
			uint64_t	 wh[KX_LIST_MAX];
		} clear;
		struct {
			uint64_t	 slot;
			const uint8_t	*to;
			const uint8_t	*box;
			uint32_t	 box_len;
		} reading;
		struct {
			uint64_t	 slot;
			uint32_t	 n;
			const uint8_t	*pk[KX_LIST_MAX];
			int64_t		 money[KX_LIST_MAX];
		} settle;
		struct {
			const uint8_t	*to;
			uint32_t	 points;
			uint64_t	 fy;
		} issue;
		struct {
			int		 cur;	/* KX_CUR_* */
			const uint8_t	*to;
			uint32_t	 amount;
			uint32_t	 n_in;
			const uint8_t	*in[KX_LIST_MAX];
		} pay;
		struct {
			int		 kind;	/* KX_OFFER or KX_WANT */
			int64_t		 until;
		} listing;
	} u;
} kx_body_t;

/* The defaults of section 5.1, in force until a `market` message. */
void		 kx_params_default(kx_params_t *p);
kx_type_t	 kx_type_of(const char *type);
kx_role_t	 kx_role_of(const char *s, size_t len);
const char	*kx_role_name(kx_role_t);
/*
 * Parses and checks m's body (step 7 without federation state), with the
 * market parameters p in force for the message's slot (for `order`).
 * Returns KX_OK or KX_EBODY with the reason in why.
 */
int	kx_body_parse(kx_body_t *b, const kx_msg_t *m, const kx_params_t *p,
	    kx_why_t *why) __attribute__((warn_unused_result));
/*
 * Who may author what (step 7): is_operator when the author is a
 * configured operator key, role its admitted role at the message's ts.
 * Returns KX_OK or KX_EBODY.
 */
int	kx_body_authority(kx_type_t t, bool is_operator, kx_role_t role,
	    kx_why_t *why);
/* The order's deadline: the last valid ts is this minus 1 (ms). */
int64_t	kx_gate_ms(uint64_t slot, uint64_t gate_s);
/* Bin fields of a type's body, as kx_json_to_mp paths (NULL-terminated). */
const char *const *kx_body_bin_paths(const char *type);

#endif
