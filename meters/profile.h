/*
 * profile.h - Modbus device profiles as data, and the pure register
 * decoders shared by the fixed-map profiles and SunSpec.
 *
 * A profile is a table of points {quantity, function code, address, type,
 * word order, power-of-ten scale, SunSpec scale-factor register}. Decoding
 * turns registers into a kx_val_t (an integer or a double), which is then
 * converted to the integer unit of the quantity (W, Wh, mV, mA, mHz,
 * permille) with rounding; NaN, infinities and values out of range are
 * refused as implausible. Tuned for a handful of points read every few
 * seconds: no allocation, tables are const.
 *
 * Internal units (all int64_t): power W (grid: positive = import), energy
 * Wh, voltage mV, current mA, frequency mHz, state of charge permille.
 */
#ifndef KX_METER_PROFILE_H
#define KX_METER_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* Result codes of the meters module (negative; KX_METER_OK is 0). */
#define KX_METER_OK		  0
#define KX_METER_ENOTIMPL	(-300)	/* SunSpec "not implemented" value */
#define KX_METER_EIMPLAUSIBLE	(-301)	/* NaN, Inf, out of range, bad SF */
#define KX_METER_ETYPE		(-302)	/* unknown type or word order */
#define KX_METER_ESHORT		(-303)	/* fewer registers than the type */
#define KX_METER_EIO		(-304)	/* transport: timeout, connection */
#define KX_METER_EEXC		(-305)	/* device answered with an exception */
#define KX_METER_ENOSUNS	(-306)	/* no SunS marker at 40000, 0, 50000 */
#define KX_METER_ELOOP		(-307)	/* model chain loops (16-bit wrap) */
#define KX_METER_ETOOMANY	(-308)	/* more than 64 models */
#define KX_METER_ERANGE		(-309)	/* chain runs past register 65535 */
#define KX_METER_ENODATA	(-310)	/* no usable point was read */
#define KX_METER_EARG		(-311)	/* bad argument or configuration */
#define KX_METER_ENOMEM		(-312)

const char	*kx_meter_strerror(int err);

typedef enum {
	KX_T_U16, KX_T_I16, KX_T_U32, KX_T_I32, KX_T_FLOAT32, KX_T_ACC32,
	KX_T_SUNSSF
} kx_rtype_t;

/*
 * Word orders of 32-bit values, named by where bytes A (most significant)
 * to D land in the register stream: ABCD big-endian, DCBA little-endian,
 * BADC byte-swapped big-endian, CDAB word-swapped.
 */
typedef enum { KX_O_ABCD, KX_O_DCBA, KX_O_BADC, KX_O_CDAB } kx_word_order_t;

typedef enum {
	KX_Q_NONE,
	KX_Q_POWER_W,		/* grid power, positive = import */
	KX_Q_IMPORT_WH,
	KX_Q_EXPORT_WH,
	KX_Q_VOLT_L1, KX_Q_VOLT_L2, KX_Q_VOLT_L3,	/* mV */
	KX_Q_CURR_L1, KX_Q_CURR_L2, KX_Q_CURR_L3,	/* mA */
	KX_Q_POWER_L1, KX_Q_POWER_L2, KX_Q_POWER_L3,	/* W */
	KX_Q_FREQ,		/* mHz */
	KX_Q_PV_W,		/* inverter AC output */
	KX_Q_PV_WH,		/* inverter lifetime energy */
	KX_Q_BATT_W,		/* battery power as reported (802: + = dis.) */
	KX_Q_SOC		/* permille */
} kx_quantity_t;

/* A decoded register value: an integer, or a float (is_float). */
typedef struct {
	int	 is_float;
	int64_t	 i;
	double	 f;
} kx_val_t;

/* One point of a profile. */
typedef struct {
	kx_quantity_t	 q;
	uint8_t		 fc;	/* 3 holding or 4 input registers */
	uint16_t	 addr;	/* register; SunSpec: offset from the ID */
	kx_rtype_t	 type;
	kx_word_order_t	 order;
	int8_t		 scale;	/* power of ten to the internal unit */
	int32_t		 sf;	/* SunSpec: offset of the sunssf, or -1 */
	const char	*unit;	/* the device's unit, for documentation */
} kx_point_t;

typedef enum { KX_PROFILE_TABLE, KX_PROFILE_SUNSPEC } kx_profile_kind_t;

typedef struct {
	const char		*name;
	kx_profile_kind_t	 kind;
	const kx_point_t	*points;	/* sorted by (fc, addr) */
	size_t			 npoints;
	int			 nphases;
} kx_profile_t;

#define KX_PHASES_MAX	3

/* Reading flags: which fields hold a value. */
#define KX_RD_POWER	0x0001u
#define KX_RD_IMPORT	0x0002u
#define KX_RD_EXPORT	0x0004u
#define KX_RD_VOLT(i)	(0x0010u << (i))
#define KX_RD_CURR(i)	(0x0080u << (i))
#define KX_RD_PPOW(i)	(0x0400u << (i))
#define KX_RD_FREQ	0x2000u
#define KX_RD_PV	0x4000u
#define KX_RD_PV_WH	0x8000u
#define KX_RD_BATT	0x10000u
#define KX_RD_SOC	0x20000u

/* One reading of a device; a field counts only when its flag is set. */
typedef struct {
	int64_t		 ts_ms;		/* wall clock when read, ms */
	uint32_t	 flags;		/* KX_RD_* */
	int		 nphases;	/* 0 (unknown), 1, 2 or 3 */
	int64_t		 power_w;
	int64_t		 import_wh;
	int64_t		 export_wh;
	int64_t		 voltage_mv[KX_PHASES_MAX];
	int64_t		 current_ma[KX_PHASES_MAX];
	int64_t		 phase_power_w[KX_PHASES_MAX];
	int64_t		 freq_mhz;
	int64_t		 pv_w;
	int64_t		 pv_wh;
	int64_t		 battery_w;
	int64_t		 soc_permille;
} kx_reading_t;

/*
 * The transport seen by the profile and SunSpec readers: reads n (1..125)
 * registers at addr with function code fc (3 or 4) into out. Returns 0,
 * KX_METER_EEXC when the device answered with an exception, or
 * KX_METER_EIO for any other failure.
 */
typedef int	(*kx_read_fn)(void *ctx, int fc, uint16_t addr, uint16_t n,
		    uint16_t *out);

#define KX_MODBUS_READ_MAX	125

/* Registers a type occupies: 1 or 2 (0 for an unknown type). */
size_t	kx_rtype_words(kx_rtype_t type);

/*
 * Decodes regs[0..n) as type in word order (ignored for 16-bit types).
 * Returns KX_METER_OK, KX_METER_ENOTIMPL for a SunSpec not-implemented
 * sentinel (i16 0x8000, u16 0xFFFF, i32 0x80000000, u32 0xFFFFFFFF,
 * acc32 0, sunssf 0x8000, float32 NaN), KX_METER_ESHORT or KX_METER_ETYPE.
 */
int	kx_reg_decode(kx_val_t *out, const uint16_t *regs, size_t n,
	    kx_rtype_t type, kx_word_order_t order)
	    __attribute__((warn_unused_result));

/*
 * out = round(v x 10^exp10), half away from zero. Returns KX_METER_OK or
 * KX_METER_EIMPLAUSIBLE (NaN, Inf, |result| >= 2^62, |exp10| > 18).
 */
int	kx_val_to_fixed(int64_t *out, const kx_val_t *v, int exp10)
	    __attribute__((warn_unused_result));

/* Encoders used by the simulator and the tests (inverse of the decoder). */
void	kx_reg_encode32(uint16_t out[2], uint32_t v, kx_word_order_t order);
void	kx_reg_encode_float(uint16_t out[2], float f, kx_word_order_t order);

/*
 * Stores value (already in the internal unit) into the reading field of
 * quantity q, unless the field is already set (first point wins).
 */
void	kx_reading_set(kx_reading_t *r, kx_quantity_t q, int64_t value);
int	kx_reading_has(const kx_reading_t *r, kx_quantity_t q);

/*
 * Names of quantities, register types and word orders as configuration
 * files spell them (docs/meters.md "Generic profiles"): "power_w",
 * "voltage_l1_mv", ...; "u16", ..., "float32"; "abcd", "dcba", "badc",
 * "cdab". Each returns the enum value, or -1 for an unknown name
 * (KX_Q_NONE and KX_T_SUNSSF have no configuration name).
 */
int		 kx_quantity_of(const char *name);
const char	*kx_quantity_name(kx_quantity_t q);	/* "?" if unknown */
int		 kx_rtype_of(const char *name);
int		 kx_order_of(const char *name);

#define KX_PROFILE_POINTS_MAX	64	/* points of a configured profile */

/*
 * Completes a table profile built at run time from npoints points: sorts
 * them by (function code, address), checks each (fc 3 or 4, a known type
 * other than sunssf, the value inside registers 0..65535, no quantity
 * twice, scale -18..18) and sets p->points, p->npoints, p->nphases (the
 * highest phase any per-phase point names) and p->kind. name is borrowed.
 * Returns KX_METER_OK, or KX_METER_EARG with a one-line reason in err.
 */
int	kx_profile_build(kx_profile_t *p, const char *name, kx_point_t *points,
	    size_t npoints, char *err, size_t errlen)
	    __attribute__((warn_unused_result));

/* Built-in profiles: "sdm630", "sdm120", "sunspec"; NULL if unknown. */
const kx_profile_t	*kx_profile_find(const char *name);

/*
 * Reads a table profile through rd: points merged into blocks of at most
 * 125 registers of one function code. Fills r (flags, nphases; not ts).
 * Points whose value is not implemented or implausible are left unset.
 * Returns KX_METER_OK, a transport error, or KX_METER_ENODATA (no point
 * gave a value).
 */
int	kx_profile_read(kx_reading_t *r, const kx_profile_t *p,
	    kx_read_fn rd, void *ctx) __attribute__((warn_unused_result));

/*
 * Decodes one point from a register image: regs holds the registers from
 * p->addr + base_off ... (see sunspec.c); sf is the scale factor already
 * decoded (0 when none). Stores into r. Returns the decode status.
 */
int	kx_point_apply(kx_reading_t *r, const kx_point_t *p,
	    const uint16_t *regs, size_t n, int sf);

#endif
