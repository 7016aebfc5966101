/*
 * faultp11: a PKCS#11 module that forwards every call to a real module
 * (SoftHSMv2, or the library named by FAULTP11_MODULE) and injects the faults
 * that the control file (FAULTP11_CONTROL) asks for into the fourteen calls in
 * names[]. Every other function-list entry is the real module's own pointer.
 * The file format is documented in the Go package internal/faultp11.
 * Only C_GetFunctionList is exported.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The platform macros pkcs11.h expects, set as github.com/miekg/pkcs11 does. */
#define CK_PTR *
#define CK_DEFINE_FUNCTION(returnType, name) returnType name
#define CK_DECLARE_FUNCTION(returnType, name) returnType name
#define CK_DECLARE_FUNCTION_POINTER(returnType, name) returnType (* name)
#define CK_CALLBACK_FUNCTION(returnType, name) returnType (* name)
#ifndef NULL_PTR
#define NULL_PTR 0
#endif
#include "pkcs11.h"

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define ANY (-1)          /* FUNC "*" */
#define BADFN (-2)        /* FUNC not understood */
#define MAXFAIL 32        /* fail lines kept per load */
#define REPEAT_MAX 65536  /* bytes remembered by "output repeat" */
#define HANG_POLL_US 2000 /* how often a hung call looks at the file again */
#define MAXSESS 1024      /* the largest "sessions" limit */

enum { F_Initialize, F_Finalize, F_GetInfo, F_GetSlotList, F_GetSlotInfo,
       F_GetTokenInfo, F_OpenSession, F_CloseSession, F_CloseAllSessions,
       F_GetSessionInfo, F_Login, F_Logout, F_SeedRandom, F_GenerateRandom, NFUNC };
static const char *const names[NFUNC] = {
	"C_Initialize", "C_Finalize", "C_GetInfo", "C_GetSlotList", "C_GetSlotInfo",
	"C_GetTokenInfo", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions",
	"C_GetSessionInfo", "C_Login", "C_Logout", "C_SeedRandom", "C_GenerateRandom",
};
enum { OUT_NONE, OUT_ZERO, OUT_REPEAT, OUT_SHORT };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static CK_FUNCTION_LIST ours;     /* what C_GetFunctionList hands out */
static CK_FUNCTION_LIST_PTR real; /* the real module's list; NULL until loaded */

/* Everything in st is guarded by mu. */
static struct {
	char control[PATH_MAX], log[PATH_MAX]; /* from the environment; "" = unset */
	int loaded, present;                   /* the loaded file: present, and */
	struct stat sb;                        /* its inode, size and mtime */
	uint64_t rng;
	struct { /* what the file says; zeroed at every load */
		struct timespec load_time; /* CLOCK_MONOTONIC */
		long delay_us[NFUNC];
		struct { double xm, alpha, max; } pareto[NFUNC]; /* xm == 0: none */
		struct { int fn; CK_RV rv; long left; } fail[MAXFAIL];
		long max_random;     /* "maxrandom": C_GenerateRandom over this many bytes */
		CK_RV max_random_rv; /* is answered this; max_random == 0: no cap */
		int nfail, hang[NFUNC], invalidate, close_pending, out_mode;
		long removed_ms, out_left;
		size_t repeat_len;
		unsigned char repeat_buf[REPEAT_MAX];
		long sessions; /* "sessions N": the token's session limit; 0: none */
	} d;
} st;

/* ---- small helpers ---------------------------------------------------- */

static void sleep_us(long us)
{
	struct timespec t;
	if (us <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += us / 1000000 + (t.tv_nsec + us % 1000000 * 1000) / 1000000000;
	t.tv_nsec = (t.tv_nsec + us % 1000000 * 1000) % 1000000000;
	/* Go's runtime signals threads (SIGURG): sleep on to the deadline. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* since_load_ms returns the whole milliseconds since the directives were
 * loaded, rounded down: the nanoseconds are summed before the division, as
 * a negative tv_nsec difference divided on its own would round up. */
static long since_load_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ns = (long long)(now.tv_sec - st.d.load_time.tv_sec) * 1000000000LL +
		       (now.tv_nsec - st.d.load_time.tv_nsec);
	return (long)(ns / 1000000);
}

/* splitmix64; mu held. */
static uint64_t next_rand(void)
{
	uint64_t z = (st.rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ln and exp without libm: the build links only -ldl -lpthread. */
static double ln(double x) /* x > 0 */
{
	double t, t2, p, s = 0;
	int e = 0, k;
	while (x >= 2) { x /= 2; e++; }
	while (x < 1) { x *= 2; e--; }
	t = (x - 1) / (x + 1); /* ln x = 2 atanh t, 0 <= t < 1/3 */
	for (k = 1, p = t, t2 = t * t; k < 40; k += 2, p *= t2)
		s += p / k;
	return 2 * s + e * 0.69314718055994530942;
}

static double expo(double y) /* y >= 0: Taylor series at y/2^n, squared n times */
{
	double s = 1, term = 1;
	int n = 0, k;
	while (y > 0.5) { y /= 2; n++; }
	for (k = 1; k < 20; k++)
		s += term *= y / k;
	while (n-- > 0)
		s *= s;
	return s;
}

/* pareto_us draws xm / U^(1/alpha), U uniform in (0,1], at most max; mu held. */
static long pareto_us(int fn)
{
	double xm = st.d.pareto[fn].xm, e, u;
	if (xm <= 0)
		return 0;
	u = ((next_rand() >> 11) + 1) * 0x1p-53;
	e = -ln(u) / st.d.pareto[fn].alpha; /* ln(X/xm): compare in logs, no overflow */
	if (e >= ln(st.d.pareto[fn].max / xm))
		return (long)st.d.pareto[fn].max;
	return (long)(xm * expo(e));
}

/* ---- the control file ------------------------------------------------- */

static int parse_func(const char *s)
{
	int i;
	if (strcmp(s, "*") == 0)
		return ANY;
	for (i = 0; i < NFUNC; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return BADFN;
}

/* num reads a decimal or 0x-hex number; 0 on success. integral: no fraction. */
static int num(const char *s, double *v, int integral)
{
	char *end;
	*v = strtod(s, &end);
	return end == s || *end != '\0' || !(*v > -2 && *v < 0x1p63) || (integral && *v != (long)*v);
}

/* EACH(i, fn) runs the next statement for fn, or for every function when fn is "*". */
#define EACH(i, fn) for (i = 0; i < NFUNC; i++) if (fn == ANY || fn == i)

/* directive applies one line, split into n tokens; it returns why the line is
 * bad, or NULL. Later lines override earlier ones, except that fail lines add up. */
static const char *directive(char **tok, int n)
{
	int fn = n > 1 ? parse_func(tok[1]) : BADFN, i, mode;
	double a, b, alpha, max;

	if (strcmp(tok[0], "delay") == 0) {
		/* delay FUNC US: sleep US microseconds before each call to FUNC. */
		if (n != 3 || fn == BADFN || num(tok[2], &a, 1) || a < 0)
			return "want: delay FUNC MICROSECONDS";
		EACH(i, fn)
			st.d.delay_us[i] = (long)a;
	} else if (strcmp(tok[0], "pareto") == 0) {
		/* pareto FUNC XM ALPHA MAX: also sleep a Pareto(XM, ALPHA) time,
		 * capped at MAX (microseconds). */
		if (n != 5 || fn == BADFN || num(tok[2], &a, 0) || num(tok[3], &alpha, 0) ||
		    num(tok[4], &max, 0) || !(a > 0) || !(alpha > 0) || !(max >= a))
			return "want: pareto FUNC XM_US ALPHA MAX_US with 0 < XM <= MAX, ALPHA > 0";
		EACH(i, fn) {
			st.d.pareto[i].xm = a;
			st.d.pareto[i].alpha = alpha;
			st.d.pareto[i].max = max;
		}
	} else if (strcmp(tok[0], "fail") == 0) {
		/* fail FUNC CKR COUNT: answer CKR without calling the real module,
		 * for the next COUNT calls (-1: all). FUNC "*": one shared counter. */
		if (n != 4 || fn == BADFN || num(tok[2], &a, 1) || a < 0 || num(tok[3], &b, 1))
			return "want: fail FUNC CKR COUNT";
		if (st.d.nfail == MAXFAIL)
			return "too many fail lines";
		st.d.fail[st.d.nfail].fn = fn;
		st.d.fail[st.d.nfail].rv = (CK_RV)a;
		st.d.fail[st.d.nfail++].left = (long)b;
	} else if (strcmp(tok[0], "removed") == 0) {
		/* removed MS: the token is gone for MS ms after the load; see begin. */
		if (n != 2 || num(tok[1], &a, 1) || a < 0)
			return "want: removed MILLISECONDS";
		st.d.removed_ms = (long)a;
		st.d.close_pending = a > 0;
	} else if (strcmp(tok[0], "sessions") == 0) {
		/* sessions N: at most N sessions open on the token, over every
		 * process that shares the control file; see seat. */
		if (n != 2 || num(tok[1], &a, 1) || a < 1 || a > MAXSESS)
			return "want: sessions N with 1 <= N <= 1024";
		st.d.sessions = (long)a;
	} else if (strcmp(tok[0], "output") == 0) {
		/* output zero|repeat|short COUNT: reshape the results of the next
		 * COUNT forwarded C_GenerateRandom calls (-1: all); see shape. A
		 * call the real module fails keeps its error. */
		mode = n < 2 ? OUT_NONE : strcmp(tok[1], "zero") == 0 ? OUT_ZERO :
		       strcmp(tok[1], "repeat") == 0 ? OUT_REPEAT :
		       strcmp(tok[1], "short") == 0 ? OUT_SHORT : OUT_NONE;
		if (n != 3 || mode == OUT_NONE || num(tok[2], &a, 1))
			return "want: output zero|repeat|short COUNT";
		st.d.out_mode = mode;
		st.d.out_left = (long)a;
	} else if (strcmp(tok[0], "maxrandom") == 0) {
		/* maxrandom N [CKR]: a C_GenerateRandom request over N bytes is
		 * answered CKR (default CKR_DATA_LEN_RANGE) without calling the
		 * real module, as by a module whose transport carries N bytes. */
		if (n < 2 || n > 3 || num(tok[1], &a, 1) || a < 1 || (n == 3 && (num(tok[2], &b, 1) || b < 1)))
			return "want: maxrandom BYTES [CKR]";
		st.d.max_random = (long)a;
		st.d.max_random_rv = n == 3 ? (CK_RV)b : CKR_DATA_LEN_RANGE;
	} else if (strcmp(tok[0], "hang") == 0) {
		/* hang FUNC: calls to FUNC wait until a reload no longer says so. */
		if (n != 2 || fn == BADFN)
			return "want: hang FUNC";
		EACH(i, fn)
			st.d.hang[i] = 1;
	} else if (strcmp(tok[0], "invalidate") == 0) {
		/* invalidate: once, close every session of the slot of the next
		 * call's session; see begin. */
		if (n != 1)
			return "want: invalidate";
		st.d.invalidate = 1;
	} else {
		return "unknown directive";
	}
	return NULL;
}

static void parse(FILE *f)
{
	char line[1024], *tok[8], *save, *p;
	const char *bad;
	int lineno = 0, n;
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		for (n = 0, p = strtok_r(line, " \t\r\n", &save); p != NULL && n < 8; p = strtok_r(NULL, " \t\r\n", &save))
			tok[n++] = p;
		if (n > 0 && (bad = directive(tok, n)) != NULL)
			fprintf(stderr, "faultp11: %s:%d: line ignored: %s\n", st.control, lineno, bad);
	}
}

/* refresh reloads the control file when its inode, size or mtime changed (a
 * missing file loads as empty); a load resets every counter. mu held. */
static void refresh(void)
{
	struct stat sb;
	FILE *f = NULL;
	int present = st.control[0] != '\0' && stat(st.control, &sb) == 0;

	if (st.loaded && present == st.present && (!present ||
	    (sb.st_dev == st.sb.st_dev && sb.st_ino == st.sb.st_ino && sb.st_size == st.sb.st_size &&
	     sb.st_mtim.tv_sec == st.sb.st_mtim.tv_sec && sb.st_mtim.tv_nsec == st.sb.st_mtim.tv_nsec)))
		return;
	/* Take the identity from the file as opened: it may have changed again. */
	if (present && ((f = fopen(st.control, "re")) == NULL || fstat(fileno(f), &st.sb) != 0))
		present = 0;
	memset(&st.d, 0, sizeof st.d);
	st.loaded = 1;
	st.present = present;
	clock_gettime(CLOCK_MONOTONIC, &st.d.load_time);
	st.rng ^= (uint64_t)st.d.load_time.tv_nsec << 24 ^ (uint64_t)st.d.load_time.tv_sec ^ (uint64_t)getpid();
	if (present)
		parse(f);
	if (f != NULL)
		fclose(f);
}

/* read_env takes FAULTP11_CONTROL and FAULTP11_LOG, at C_GetFunctionList
 * and at every C_Initialize; mu held. */
static void read_env(void)
{
	const char *c = getenv("FAULTP11_CONTROL"), *l = getenv("FAULTP11_LOG");
	if (strcmp(st.control, c ? c : "") != 0)
		st.loaded = 0; /* another file: load it */
	snprintf(st.control, sizeof st.control, "%s", c ? c : "");
	snprintf(st.log, sizeof st.log, "%s", l ? l : "");
}

/* ---- the session limit ------------------------------------------------ */

/* held lists the sessions of this process that occupy a seat of the limit;
 * guarded by mu. It outlives reloads: the sessions stay open. */
static struct { int used, fd; CK_SESSION_HANDLE h; CK_SLOT_ID slot; } held[MAXSESS];

/* seat takes one of the N seats of "sessions N": the files CONTROL.session.0
 * to N-1, each held with flock(LOCK_EX), which every process loading the
 * module with the same control file contends for, and which the kernel
 * releases when a process dies. It returns the locked file's descriptor, -1
 * when every seat is taken, or -2 when there is no limit. mu held. */
static int seat(void)
{
	char path[PATH_MAX + 32];
	long i;
	int fd;
	if (st.d.sessions <= 0 || st.control[0] == '\0')
		return -2;
	for (i = 0; i < st.d.sessions; i++) {
		snprintf(path, sizeof path, "%s.session.%ld", st.control, i);
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		close(fd);
	}
	return -1;
}

/* hold records that session h on slot keeps the seat fd. mu held. */
static void hold(int fd, CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
	int i;
	for (i = 0; i < MAXSESS; i++)
		if (!held[i].used) {
			held[i].used = 1, held[i].fd = fd, held[i].h = h, held[i].slot = slot;
			return;
		}
	close(fd); /* cannot happen: at most MAXSESS seats exist */
}

/* unseat frees the seats of session h (all: every session; else slot's
 * sessions when byslot, h's when not). mu held. */
static void unseat(int all, int byslot, CK_SLOT_ID slot, CK_SESSION_HANDLE h)
{
	int i;
	for (i = 0; i < MAXSESS; i++)
		if (held[i].used && (all || (byslot ? held[i].slot == slot : held[i].h == h))) {
			close(held[i].fd);
			held[i].used = 0;
		}
}

/* ---- the fault path shared by every wrapper ---------------------------- */

struct call {
	CK_RV rv;    /* the injected answer, when begin returns 1 */
	int removed; /* that answer is the token's removal */
	int output;  /* OUT_*: how C_GenerateRandom's bytes are reshaped */
};

/* close_all closes every session of every slot with a token, in the real module. */
static void close_all(void)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;
	if (real->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK)
		for (i = 0; i < n; i++)
			real->C_CloseAllSessions(slots[i]);
	pthread_mutex_lock(&mu);
	unseat(1, 0, 0, 0);
	pthread_mutex_unlock(&mu);
}

/*
 * begin runs before each call, in this order: reload the file; hang; delay and
 * pareto; removed; fail; invalidate; output. It returns 1 when c->rv answers
 * the call instead of the real module. removable: "removed" applies to this
 * call; session: h is a session handle. mu is never held while sleeping.
 */
static int begin(struct call *c, int fn, int removable, int session, CK_SESSION_HANDLE h)
{
	int close_now, inval = 0, i;
	long delay;

	memset(c, 0, sizeof *c);
	if (real == NULL) { /* C_GetFunctionList could not load the real module */
		c->rv = CKR_GENERAL_ERROR;
		return 1;
	}
	for (;;) { /* hang: look at the file again every HANG_POLL_US */
		pthread_mutex_lock(&mu);
		refresh();
		if (!st.d.hang[fn])
			break;
		pthread_mutex_unlock(&mu);
		sleep_us(HANG_POLL_US);
	}
	close_now = st.d.close_pending;
	st.d.close_pending = 0;
	delay = st.d.delay_us[fn] + pareto_us(fn);
	pthread_mutex_unlock(&mu);

	/* removed: as a real device does, the removal drops every session. */
	if (close_now)
		close_all();
	sleep_us(delay);

	pthread_mutex_lock(&mu);
	if (removable && st.d.removed_ms > 0 && since_load_ms() < st.d.removed_ms) {
		/* C_GetSlotList(TRUE): no slot, answered by its wrapper;
		 * C_GetTokenInfo: no token; the rest: the device is gone. */
		c->removed = 1;
		c->rv = fn == F_GetTokenInfo ? CKR_TOKEN_NOT_PRESENT : CKR_DEVICE_REMOVED;
		pthread_mutex_unlock(&mu);
		return 1;
	}
	for (i = 0; i < st.d.nfail; i++) {
		if ((st.d.fail[i].fn == ANY || st.d.fail[i].fn == fn) && st.d.fail[i].left != 0) {
			if (st.d.fail[i].left > 0)
				st.d.fail[i].left--;
			c->rv = st.d.fail[i].rv;
			pthread_mutex_unlock(&mu);
			return 1;
		}
	}
	if (session && st.d.invalidate) {
		st.d.invalidate = 0;
		inval = 1;
	}
	if (fn == F_GenerateRandom && st.d.out_left != 0) {
		c->output = st.d.out_mode;
		if (st.d.out_left > 0)
			st.d.out_left--;
	}
	pthread_mutex_unlock(&mu);

	/* invalidate: the real module closes the session, so that it answers
	 * CKR_SESSION_HANDLE_INVALID itself. */
	if (inval) {
		CK_SESSION_INFO si;
		if (real->C_GetSessionInfo(h, &si) == CKR_OK) {
			real->C_CloseAllSessions(si.slotID);
			pthread_mutex_lock(&mu);
			unseat(0, 1, si.slotID, 0);
			pthread_mutex_unlock(&mu);
		}
	}
	return 0;
}

/* end appends "C_Name 0xRV" to FAULTP11_LOG in one write, and returns rv.
 * It never logs arguments: C_Login carries the PIN. */
static CK_RV end(int fn, CK_RV rv)
{
	char path[PATH_MAX], line[64];
	int fd, n;
	pthread_mutex_lock(&mu);
	memcpy(path, st.log, sizeof path);
	pthread_mutex_unlock(&mu);
	if (path[0] == '\0' || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return rv;
	n = snprintf(line, sizeof line, "%s 0x%lx\n", names[fn], (unsigned long)rv);
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "faultp11: writing %s failed\n", path);
	close(fd);
	return rv;
}

/* shape reshapes a successful C_GenerateRandom result. zero: every byte 0.
 * short: the second half 0. repeat: the run's first result is remembered (up
 * to REPEAT_MAX bytes) and later ones are those bytes again, cyclically. */
static void shape(int mode, CK_BYTE_PTR p, CK_ULONG n)
{
	CK_ULONG i, k;
	if (mode == OUT_ZERO)
		memset(p, 0, n);
	else if (mode == OUT_SHORT)
		memset(p + n / 2, 0, n - n / 2);
	if (mode != OUT_REPEAT)
		return;
	pthread_mutex_lock(&mu);
	if (st.d.repeat_len == 0) {
		st.d.repeat_len = n < REPEAT_MAX ? n : REPEAT_MAX;
		memcpy(st.d.repeat_buf, p, st.d.repeat_len);
	} else {
		for (i = 0; i < n; i += k) {
			k = n - i < st.d.repeat_len ? n - i : st.d.repeat_len;
			memcpy(p + i, st.d.repeat_buf, k);
		}
	}
	pthread_mutex_unlock(&mu);
}

/* ---- the wrappers ------------------------------------------------------ */

/* WRAP answers with the fault, or forwards CALL to the real module; it logs both. */
#define WRAP(fn, removable, session, h, CALL) do {        \
		struct call c;                            \
		if (begin(&c, fn, removable, session, h)) \
			return end(fn, c.rv);             \
		return end(fn, real->CALL);               \
	} while (0)

static CK_RV w_Initialize(CK_VOID_PTR args)
{
	pthread_mutex_lock(&mu);
	read_env();
	pthread_mutex_unlock(&mu);
	WRAP(F_Initialize, 0, 0, 0, C_Initialize(args)); /* the real answer, unchanged */
}

static CK_RV w_Finalize(CK_VOID_PTR r)
{
	pthread_mutex_lock(&mu);
	unseat(1, 0, 0, 0); /* C_Finalize closes every session */
	pthread_mutex_unlock(&mu);
	WRAP(F_Finalize, 0, 0, 0, C_Finalize(r));
}
static CK_RV w_GetInfo(CK_INFO_PTR i) { WRAP(F_GetInfo, 0, 0, 0, C_GetInfo(i)); }

static CK_RV w_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	struct call c;
	if (!begin(&c, F_GetSlotList, present, 0, 0))
		return end(F_GetSlotList, real->C_GetSlotList(present, list, count));
	if (c.removed) { /* no slot has a token */
		c.rv = count == NULL ? CKR_ARGUMENTS_BAD : CKR_OK;
		if (count != NULL)
			*count = 0;
	}
	return end(F_GetSlotList, c.rv);
}

static CK_RV w_GetSlotInfo(CK_SLOT_ID s, CK_SLOT_INFO_PTR i) { WRAP(F_GetSlotInfo, 1, 0, 0, C_GetSlotInfo(s, i)); }
static CK_RV w_GetTokenInfo(CK_SLOT_ID s, CK_TOKEN_INFO_PTR i) { WRAP(F_GetTokenInfo, 1, 0, 0, C_GetTokenInfo(s, i)); }

/* C_OpenSession takes a seat of "sessions N" first, and answers
 * CKR_SESSION_COUNT, as a token at its limit does, when none is free. */
static CK_RV w_OpenSession(CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY cb, CK_SESSION_HANDLE_PTR h)
{
	struct call c;
	CK_RV rv;
	int fd;
	if (begin(&c, F_OpenSession, 1, 0, 0))
		return end(F_OpenSession, c.rv);
	pthread_mutex_lock(&mu);
	fd = seat();
	pthread_mutex_unlock(&mu);
	if (fd == -1)
		return end(F_OpenSession, CKR_SESSION_COUNT);
	rv = real->C_OpenSession(s, f, a, cb, h);
	if (fd >= 0) {
		pthread_mutex_lock(&mu);
		if (rv == CKR_OK && h != NULL)
			hold(fd, *h, s);
		else
			close(fd);
		pthread_mutex_unlock(&mu);
	}
	return end(F_OpenSession, rv);
}

/* A close that reaches the real module frees the seats, whatever it
 * answers: a handle it no longer knows holds no session. */
static CK_RV w_CloseSession(CK_SESSION_HANDLE h)
{
	struct call c;
	CK_RV rv;
	if (begin(&c, F_CloseSession, 1, 1, h))
		return end(F_CloseSession, c.rv);
	rv = real->C_CloseSession(h);
	pthread_mutex_lock(&mu);
	unseat(0, 0, 0, h);
	pthread_mutex_unlock(&mu);
	return end(F_CloseSession, rv);
}

static CK_RV w_CloseAllSessions(CK_SLOT_ID s)
{
	struct call c;
	CK_RV rv;
	if (begin(&c, F_CloseAllSessions, 1, 0, 0))
		return end(F_CloseAllSessions, c.rv);
	rv = real->C_CloseAllSessions(s);
	pthread_mutex_lock(&mu);
	unseat(0, 1, s, 0);
	pthread_mutex_unlock(&mu);
	return end(F_CloseAllSessions, rv);
}
static CK_RV w_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR i) { WRAP(F_GetSessionInfo, 1, 1, h, C_GetSessionInfo(h, i)); }
static CK_RV w_Login(CK_SESSION_HANDLE h, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG n) { WRAP(F_Login, 1, 1, h, C_Login(h, u, pin, n)); }
static CK_RV w_Logout(CK_SESSION_HANDLE h) { WRAP(F_Logout, 1, 1, h, C_Logout(h)); }
static CK_RV w_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG n) { WRAP(F_SeedRandom, 1, 1, h, C_SeedRandom(h, p, n)); }

static CK_RV w_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR p, CK_ULONG n)
{
	struct call c;
	CK_RV rv;
	if (begin(&c, F_GenerateRandom, 1, 1, h))
		return end(F_GenerateRandom, c.rv);
	pthread_mutex_lock(&mu); /* maxrandom: a request too large is refused */
	rv = st.d.max_random > 0 && n > (CK_ULONG)st.d.max_random ? st.d.max_random_rv : CKR_OK;
	pthread_mutex_unlock(&mu);
	if (rv != CKR_OK)
		return end(F_GenerateRandom, rv);
	rv = real->C_GenerateRandom(h, p, n); /* without mu */
	if (rv == CKR_OK && p != NULL && n > 0)
		shape(c.output, p, n);
	return end(F_GenerateRandom, rv);
}

#define P(name) ours.C_##name = w_##name;
static void patch(void)
{
	P(Initialize) P(Finalize) P(GetInfo) P(GetSlotList) P(GetSlotInfo) P(GetTokenInfo)
	P(OpenSession) P(CloseSession) P(CloseAllSessions) P(GetSessionInfo) P(Login)
	P(Logout) P(SeedRandom) P(GenerateRandom)
}

/* C_GetFunctionList opens the real module (it stays loaded for the life of
 * the process) and hands out a copy of its list with the wrappers patched in. */
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR pp)
{
	const char *path = getenv("FAULTP11_MODULE");
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR list = NULL;
	CK_RV rv = CKR_OK;
	void *h;

	if (pp == NULL)
		return CKR_ARGUMENTS_BAD;
	if (path == NULL || path[0] == '\0')
		path = DEFAULT_MODULE;
	pthread_mutex_lock(&mu);
	read_env();
	if (real == NULL) {
		patch(); /* if loading fails, the wrappers answer CKR_GENERAL_ERROR */
		rv = CKR_GENERAL_ERROR;
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
			fprintf(stderr, "faultp11: cannot load the real module: %s\n", dlerror());
		else if ((get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList")) == NULL ||
			 (rv = get(&list)) != CKR_OK || list == NULL) {
			fprintf(stderr, "faultp11: no function list from %s (0x%lx)\n", path, (unsigned long)rv);
			rv = rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
			dlclose(h);
		} else {
			ours = *list; /* everything not wrapped passes straight through */
			patch();
			real = list;
		}
	}
	pthread_mutex_unlock(&mu);
	*pp = &ours; /* even on failure: github.com/miekg/pkcs11 ignores rv */
	return rv;
}
