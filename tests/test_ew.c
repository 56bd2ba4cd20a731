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

#define NJOBS 1000

struct job {
	struct ew_job link; /* first, as ew.h asks */
	uint64_t spin_ns;   /* CPU time the job burns */
	bool ran;
	pthread_t ran_on;
};

/* The calling thread's CPU time, in ns. */
static uint64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The loop's side of the wake-ups: counted, and waited for. */
struct waker {
	atomic_int wakes;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* What each test starts with: a running worker whose jobs count their
 * runs, and jobs to give it. */
struct fixture {
	atomic_int runs;
	struct waker wk;
	struct ew *w;
	struct job jobs[NJOBS];
};

static void run(struct ew_job *j, void *arg)
{
	atomic_int *runs = arg;
	struct job *job = (struct job *)j;
	for (uint64_t t0 = thread_ns(); thread_ns() - t0 < job->spin_ns;)
		;
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

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	atomic_init(&f->runs, 0);
	atomic_init(&f->wk.wakes, 0);
	pthread_mutex_init(&f->wk.mu, NULL);
	pthread_cond_init(&f->wk.cv, NULL);
	f->w = ew_new(run, &f->runs, wake, &f->wk);
	*state = f;
	return f->w ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ew_free(f->w);
	pthread_cond_destroy(&f->wk.cv);
	pthread_mutex_destroy(&f->wk.mu);
	free(f);
	return 0;
}

/* Hands jobs[from..to) to the worker as one list. */
static void submit(struct fixture *f, int from, int to)
{
	for (int i = from; i < to; i++)
		f->jobs[i].link.next = i + 1 < to ? &f->jobs[i + 1].link : NULL;
	ew_submit(f->w, &f->jobs[from].link, &f->jobs[to - 1].link);
}

/* Waits until the worker has woken the loop more than seen times. A worker
 * that never does fails the test by the time-out rather than hanging it. */
static void wait_wake(struct waker *wk, int seen)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&wk->mu);
	int rc = 0;
	while (atomic_load(&wk->wakes) == seen && rc == 0)
		rc = pthread_cond_timedwait(&wk->cv, &wk->mu, &until);
	pthread_mutex_unlock(&wk->mu);
	assert_int_equal(rc, 0);
}

/* Takes done jobs until jobs[0..want) came back, sleeping until woken
 * whenever the done list is empty, and checks they come in submission
 * order. Returns how many ew_take_done calls returned a list. */
static int take_in_order(struct fixture *f, int want)
{
	int lists = 0, next = 0;
	while (next < want) {
		int seen = atomic_load(&f->wk.wakes);
		struct ew_job *j = ew_take_done(f->w);
		if (!j) {
			/* Empty: the worker wakes the loop when it puts jobs on it. */
			wait_wake(&f->wk, seen);
			continue;
		}
		lists++;
		for (; j; j = j->next) {
			assert_ptr_equal(j, &f->jobs[next].link);
			assert_true(f->jobs[next].ran);
			next++;
		}
	}
	assert_null(ew_take_done(f->w));
	return lists;
}

static void test_jobs_come_back_in_order(void **state)
{
	struct fixture *f = *state;
	/* Batches of different sizes, the later ones submitted while the
	 * earlier ones may still run. */
	const int sizes[] = { 1, 7, 32, 33, 200, 727 };
	int at = 0;
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		submit(f, at, at + sizes[b]);
		at += sizes[b];
	}
	assert_int_equal(at, NJOBS);
	take_in_order(f, NJOBS);
	assert_int_equal(atomic_load(&f->runs), NJOBS);
	for (int i = 0; i < NJOBS; i++)
		assert_false(pthread_equal(f->jobs[i].ran_on, pthread_self()));
	/* Woken at least once, and not once a job: the worker hands jobs
	 * back in groups and wakes only a loop that emptied its list. */
	assert_true(atomic_load(&f->wk.wakes) >= 1);
	assert_true(atomic_load(&f->wk.wakes) < NJOBS);
}

/* One job onto an empty done list: the loop, asleep until told, is told.
 * Then a second while the first is still on the list: no second wake-up
 * (the loop has one on its way, and takes both). */
static void test_wakes_a_loop_that_emptied_its_list(void **state)
{
	struct fixture *f = *state;
	submit(f, 0, 1);
	wait_wake(&f->wk, 0);
	assert_int_equal(atomic_load(&f->wk.wakes), 1);
	submit(f, 1, 2);
	ew_stop(f->w); /* the second job is done when it returns */
	assert_int_equal(atomic_load(&f->wk.wakes), 1);
	assert_int_equal(take_in_order(f, 2), 1);
}

/* ew_run_seconds counts the CPU the jobs took: two jobs of 30 ms each,
 * and nothing for the worker's waiting between them. */
static void test_run_seconds_count_the_jobs(void **state)
{
	struct fixture *f = *state;
	f->jobs[0].spin_ns = f->jobs[1].spin_ns = 30000000;
	submit(f, 0, 1);
	take_in_order(f, 1);
	struct timespec pause = { 0, 100000000 };
	nanosleep(&pause, NULL);
	submit(f, 1, 2);
	ew_stop(f->w);
	double s = ew_run_seconds(f->w);
	assert_true(s >= 0.060);
	assert_true(s < 0.100);
}

/* ew_stop runs what was submitted; what comes after runs at once, here,
 * and is on the done list when ew_submit returns. */
static void test_stop_runs_the_rest(void **state)
{
	struct fixture *f = *state;
	submit(f, 0, 60);
	ew_stop(f->w);
	assert_int_equal(atomic_load(&f->runs), 60);
	submit(f, 60, 100);
	assert_int_equal(atomic_load(&f->runs), 100);
	for (int i = 60; i < 100; i++)
		assert_true(pthread_equal(f->jobs[i].ran_on, pthread_self()));
	take_in_order(f, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_jobs_come_back_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wakes_a_loop_that_emptied_its_list, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_seconds_count_the_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_runs_the_rest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
