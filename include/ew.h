/* ew: the engine worker. One thread runs the CPU-bound part of each chat
 * message (deciding it, saying the reply, writing the frame and the log
 * line) while the event loop thread moves bytes, so the server uses a
 * second core where libwebsockets (built LWS_MAX_SMP 1) gives it one.
 *
 * Jobs go in a batch at a time and come back in the order they went in.
 * The worker calls wake (lws_cancel_service) when it puts jobs on a done
 * list the loop had emptied, so a busy loop is woken once per batch, not
 * once per job.
 *
 * Threads: everything here is called on the loop thread; run() is called
 * on the worker thread, or on the loop thread for jobs submitted after
 * ew_stop. */
#ifndef AUTOASSIST_EW_H
#define AUTOASSIST_EW_H

/* The link a job carries; embed it as the first member of the job. */
struct ew_job {
	struct ew_job *next;
};

struct ew;

/* Starts the worker thread. run(job, arg) does a job's work; wake(wake_arg)
 * is called on the worker thread when jobs are done. Returns NULL when the
 * thread or memory is not to be had. */
struct ew *ew_new(void (*run)(struct ew_job *job, void *arg), void *arg,
		  void (*wake)(void *), void *wake_arg);

/* Hands the list first..last (linked by next) to the worker, which owns
 * the jobs until ew_take_done gives them back. After ew_stop the jobs are
 * run at once, on the caller's thread, and are done on return. */
void ew_submit(struct ew *w, struct ew_job *first, struct ew_job *last);

/* The jobs done so far, linked in submission order, or NULL. The caller
 * owns them again. */
struct ew_job *ew_take_done(struct ew *w);

/* Runs the jobs submitted so far and ends the thread; their results stay
 * for ew_take_done. */
void ew_stop(struct ew *w);

/* The CPU time the worker thread has spent running jobs so far, in
 * seconds: what the jobs cost, without its waits and wake-ups. */
double ew_run_seconds(struct ew *w);

/* Stops the thread if it still runs and frees the worker. Jobs not taken
 * back are the caller's to have taken first. */
void ew_free(struct ew *w);

#endif
