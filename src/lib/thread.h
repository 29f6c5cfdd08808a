/*
 * Background threads of kodend and the store: started with every signal
 * blocked (the caller's thread reads them, kodend with signalfd) and named
 * for top -H and perf.
 */
#ifndef KODEN_THREAD_H
#define KODEN_THREAD_H

#include <pthread.h>

/* pthread_create with all signals blocked in the new thread, then name it
 * (15 bytes at most).  Returns pthread_create's result. */
int thread_start(pthread_t *t, void *(*fn)(void *), void *arg,
    const char *name);

#endif
