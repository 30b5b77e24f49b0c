/*
 * test.h - the unit-test harness (Dovecot lib-test shape): each test file
 * has a main() that calls test_run() with its cases; every failed check
 * prints file:line and the expression, and the summary line is
 * "unit: N passed, N failed" so CI can read it.
 */
#ifndef TICKD_TEST_H
#define TICKD_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;
static const char *test_name;

#define TEST_CHECK(expr)                                                       \
	do {                                                                   \
		if (expr) {                                                    \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__,     \
			        __LINE__, test_name, #expr);                   \
		}                                                              \
	} while (0)

#define TEST_STREQ(a, b)                                                       \
	do {                                                                   \
		const char *ta_ = (a), *tb_ = (b);                             \
		if (ta_ != NULL && tb_ != NULL && strcmp(ta_, tb_) == 0) {     \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr,                                        \
			        "FAIL %s:%d [%s]: %s == %s\n  got:  '%s'\n"    \
			        "  want: '%s'\n",                              \
			        __FILE__, __LINE__, test_name, #a, #b,         \
			        ta_ ? ta_ : "(null)", tb_ ? tb_ : "(null)");   \
		}                                                              \
	} while (0)

#define TEST_INTEQ(a, b)                                                       \
	do {                                                                   \
		long long ta_ = (long long)(a), tb_ = (long long)(b);          \
		if (ta_ == tb_) {                                              \
			test_passed++;                                         \
		} else {                                                       \
			test_failed++;                                         \
			fprintf(stderr,                                        \
			        "FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n",  \
			        __FILE__, __LINE__, test_name, #a, #b, ta_,    \
			        tb_);                                          \
		}                                                              \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* test_run - run every case, print the summary; returns main's exit code. */
static inline int
test_run(const char *suite, const struct test_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		test_name = cases[i].name;
		cases[i].fn();
	}
	printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
	return test_failed == 0 ? 0 : 1;
}

#endif
