/* Tests for ew, the engine worker: jobs run on another thread and come back
 * in the order they went in, across batches and hand-backs; the loop is
 * woken when a done list it emptied gets jobs; after ew_stop, jobs run at
 * once on the caller's thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "ew.h"

struct job {
	struct ew_job link; /* first, as ew.h asks */
	int n;
	bool ran;
	pthread_t ran_on;
};

struct waker {
	atomic_int wakes;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void run(struct ew_job *j, void *arg)
{
	atomic_int *runs = arg;
	struct job *job = (struct job *)j;
	job->ran = true;
	job->ran_on = pthread_self();
	atomic_fetch_add(runs, 1);
}

static void wake(void *arg)
{
	struct waker *w = arg;
	pthread_mutex_lock(&w->mu);
	atomic_fetch_add(&w->wakes, 1);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void waker_init(struct waker *w)
{
	atomic_init(&w->wakes, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

static void waker_destroy(struct waker *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

/* Links jobs[from..to) into a list. */
static void link_jobs(struct job *jobs, int from, int to)
{
	for (int i = from; i < to; i++)
		jobs[i].link.next = i + 1 < to ? &jobs[i + 1].link : NULL;
}

/* Takes done jobs until want came back (waiting for wake-ups between),
 * checking that they come in submission order from *next on. Returns how
 * many ew_take_done calls returned a list. */
static int take_in_order(struct ew *w, struct waker *wk, struct job *jobs, int *next, int want)
{
	int lists = 0;
	while (*next < want) {
		int seen = atomic_load(&wk->wakes);
		struct ew_job *j = ew_take_done(w);
		if (!j) {
			/* The list was empty: the worker wakes us when it puts
			 * jobs on it. A worker that never did fails the test
			 * by its time-out rather than hanging it. */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 10;
			pthread_mutex_lock(&wk->mu);
			int rc = 0;
			while (atomic_load(&wk->wakes) == seen && rc == 0)
				rc = pthread_cond_timedwait(&wk->cv, &wk->mu, &until);
			pthread_mutex_unlock(&wk->mu);
			assert_int_equal(rc, 0);
			continue;
		}
		lists++;
		for (; j; j = j->next) {
			struct job *job = (struct job *)j;
			assert_ptr_equal(job, &jobs[*next]);
			assert_true(job->ran);
			(*next)++;
		}
	}
	return lists;
}

static void test_jobs_come_back_in_order(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct job *jobs = calloc(N, sizeof(*jobs));
	assert_non_null(jobs);
	for (int i = 0; i < N; i++)
		jobs[i].n = i;
	atomic_int runs;
	atomic_init(&runs, 0);
	struct waker wk;
	waker_init(&wk);
	struct ew *w = ew_new(run, &runs, wake, &wk);
	assert_non_null(w);

	/* Batches of different sizes, the later ones submitted while the
	 * earlier ones may still run. */
	int next = 0, at = 0;
	const int sizes[] = { 1, 7, 32, 33, 200, 727 };
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		link_jobs(jobs, at, at + sizes[b]);
		ew_submit(w, &jobs[at].link, &jobs[at + sizes[b] - 1].link);
		at += sizes[b];
	}
	assert_int_equal(at, N);
	take_in_order(w, &wk, jobs, &next, N);
	assert_int_equal(atomic_load(&runs), N);
	for (int i = 0; i < N; i++)
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
	/* Woken at least once, and not once a job: the worker hands jobs
	 * back in groups and wakes only a loop that emptied its list. */
	assert_true(atomic_load(&wk.wakes) >= 1);
	assert_true(atomic_load(&wk.wakes) < N);
	assert_null(ew_take_done(w));
	ew_free(w);
	waker_destroy(&wk);
	free(jobs);
}

/* One job onto an empty done list: the loop, asleep until told, is told.
 * Then a second while the first is still on the list: no second wake-up
 * (the loop has one on its way, and takes both). */
static void test_wakes_a_loop_that_emptied_its_list(void **state)
{
	(void)state;
	struct job jobs[2] = { 0 };
	atomic_int runs;
	atomic_init(&runs, 0);
	struct waker wk;
	waker_init(&wk);
	struct ew *w = ew_new(run, &runs, wake, &wk);
	assert_non_null(w);
	link_jobs(jobs, 0, 1);
	ew_submit(w, &jobs[0].link, &jobs[0].link);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&wk.mu);
	int rc = 0;
	while (atomic_load(&wk.wakes) == 0 && rc == 0)
		rc = pthread_cond_timedwait(&wk.cv, &wk.mu, &until);
	pthread_mutex_unlock(&wk.mu);
	assert_int_equal(rc, 0);
	assert_int_equal(atomic_load(&wk.wakes), 1);

	link_jobs(jobs, 1, 2);
	ew_submit(w, &jobs[1].link, &jobs[1].link);
	ew_stop(w); /* the second job is done when it returns */
	assert_int_equal(atomic_load(&wk.wakes), 1);
	int next = 0;
	assert_int_equal(take_in_order(w, &wk, jobs, &next, 2), 1);
	ew_free(w);
	waker_destroy(&wk);
}

/* ew_stop runs what was submitted; what comes after runs at once, here,
 * and is on the done list when ew_submit returns. */
static void test_stop_runs_the_rest(void **state)
{
	(void)state;
	enum { N = 100 };
	struct job jobs[N] = { 0 };
	atomic_int runs;
	atomic_init(&runs, 0);
	struct waker wk;
	waker_init(&wk);
	struct ew *w = ew_new(run, &runs, wake, &wk);
	assert_non_null(w);
	link_jobs(jobs, 0, 60);
	ew_submit(w, &jobs[0].link, &jobs[59].link);
	ew_stop(w);
	assert_int_equal(atomic_load(&runs), 60);

	link_jobs(jobs, 60, N);
	ew_submit(w, &jobs[60].link, &jobs[N - 1].link);
	assert_int_equal(atomic_load(&runs), N);
	for (int i = 60; i < N; i++)
		assert_true(pthread_equal(jobs[i].ran_on, pthread_self()));
	int next = 0;
	take_in_order(w, &wk, jobs, &next, N);
	assert_null(ew_take_done(w));
	ew_free(w);
	waker_destroy(&wk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_come_back_in_order),
		cmocka_unit_test(test_wakes_a_loop_that_emptied_its_list),
		cmocka_unit_test(test_stop_runs_the_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
