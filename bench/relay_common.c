/* bench/relay_common.h's helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "relay_common.h"

void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
	nanosleep(&ts, NULL);
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL)
		die("out of memory");
	return p;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
pct(double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

const char *const bench_words[] = {
	"THE", "MINISTER", "MET", "AMBASSADOR", "THIS", "MORNING", "AND",
	"DISCUSSED", "TRADE", "TALKS", "FISHERIES", "QUOTAS", "VISA", "RULES",
	"SUMMIT", "AGENDA", "FOR", "NEXT", "MONTH", "IN", "DETAIL", "WITHOUT",
	"REACHING", "FINAL", "AGREEMENT", "ON", "ALL", "POINTS", "EMBASSY",
	"COUNSELLOR", "REPORTED", "THAT", "GOVERNMENT", "OFFICIALS", "EXPECT",
	"PARLIAMENT", "TO", "VOTE", "EARLY", "SPRING", "WHILE", "OPPOSITION",
	"LEADERS", "DEMAND", "FURTHER", "CONSULTATIONS", "REGARDING", "ENERGY",
	"PRICES", "SECURITY", "COOPERATION", "REGIONAL", "STABILITY", "EXPORT",
	"CONTROLS", "DELEGATION", "WILL", "ARRIVE", "TUESDAY", "PLEASE",
	"ADVISE", "INSTRUCTIONS", "URGENTLY",
};

const size_t bench_nwords = sizeof(bench_words) / sizeof(bench_words[0]);
