/* ew: the engine worker thread. See include/ew.h. */
#include "ew.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "rw.h"

/* Jobs run between two hand-backs at most: a big batch starts coming back
 * before all of it is done, so its first replies are not held up. */
#define RETURN_EVERY 32

struct ew {
	void (*run)(struct ew_job *, void *);
	void *arg;
	void (*wake)(void *);
	void *wake_arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ew_job *in_head, *in_tail;     /* under mu */
	struct ew_job *done_head, *done_tail; /* under mu */
	bool stopping;                        /* under mu */
	atomic_uint_fast64_t run_ns;          /* CPU time in run(), written by the worker */
	bool stopped;                         /* loop thread: the thread is joined */
};

static void append(struct ew_job **head, struct ew_job **tail, struct ew_job *first,
		   struct ew_job *last)
{
	last->next = NULL;
	if (*tail)
		(*tail)->next = first;
	else
		*head = first;
	*tail = last;
}

/* Worker thread: puts first..last on the done list; wakes the loop when
 * the list was empty (a list that was not has a wake-up on its way). */
static void hand_back(struct ew *w, struct ew_job *first, struct ew_job *last)
{
	pthread_mutex_lock(&w->mu);
	bool was_empty = !w->done_head;
	append(&w->done_head, &w->done_tail, first, last);
	pthread_mutex_unlock(&w->mu);
	if (was_empty && w->wake)
		w->wake(w->wake_arg);
}

/* The calling thread's CPU time, in ns. */
static uint64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
	struct ew *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->in_head && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->in_head)
			break;
		struct ew_job *j = w->in_head;
		w->in_head = w->in_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		while (j) {
			struct ew_job *first = j, *last = j;
			uint64_t t0 = thread_ns();
			for (int n = 0; j && n < RETURN_EVERY; n++) {
				struct ew_job *next = j->next;
				w->run(j, w->arg);
				last = j;
				j = next;
			}
			atomic_fetch_add_explicit(&w->run_ns, thread_ns() - t0, memory_order_relaxed);
			hand_back(w, first, last);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct ew *ew_new(void (*run)(struct ew_job *job, void *arg), void *arg,
		  void (*wake)(void *), void *wake_arg)
{
	struct ew *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	atomic_init(&w->run_ns, 0);
	w->run = run;
	w->arg = arg;
	w->wake = wake;
	w->wake_arg = wake_arg;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto free_ew;
	if (pthread_cond_init(&w->cv, NULL) != 0)
		goto destroy_mu;
	if (rw_thread_start(&w->thread, worker, w) < 0)
		goto destroy_cv;
	return w;
destroy_cv:
	pthread_cond_destroy(&w->cv);
destroy_mu:
	pthread_mutex_destroy(&w->mu);
free_ew:
	free(w);
	return NULL;
}

void ew_submit(struct ew *w, struct ew_job *first, struct ew_job *last)
{
	if (w->stopped) {
		/* No thread to race with: run them here, in order. */
		for (struct ew_job *j = first, *next; j; j = next) {
			next = j == last ? NULL : j->next;
			w->run(j, w->arg);
		}
		pthread_mutex_lock(&w->mu);
		append(&w->done_head, &w->done_tail, first, last);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_lock(&w->mu);
	append(&w->in_head, &w->in_tail, first, last);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct ew_job *ew_take_done(struct ew *w)
{
	pthread_mutex_lock(&w->mu);
	struct ew_job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->mu);
	return j;
}

double ew_run_seconds(struct ew *w)
{
	return (double)atomic_load_explicit(&w->run_ns, memory_order_relaxed) / 1e9;
}

void ew_stop(struct ew *w)
{
	if (!w || w->stopped)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->stopped = true;
}

void ew_free(struct ew *w)
{
	if (!w)
		return;
	ew_stop(w);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
