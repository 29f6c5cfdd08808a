/*
 * Background threads (thread.h).
 */
#define _GNU_SOURCE	/* pthread_setname_np */
#include <pthread.h>
#include <signal.h>

#include "lib/thread.h"

int
thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	sigset_t all, old;
	int rc;

	/* the new thread inherits the mask */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(*t, name);
	return rc;
}
