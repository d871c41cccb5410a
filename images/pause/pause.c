/*
 * corekube pause: the process that holds a pod sandbox's namespaces open.
 *
 * It does nothing but wait: SIGINT or SIGTERM make it exit with status 0, and SIGCHLD makes it
 * reap every child that has exited (as PID 1 of a shared PID namespace it inherits orphans).
 * Built with `gcc -static -O2` by images/build, so the image needs no libc.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: pause (sleeps until SIGINT or SIGTERM)\n";

	if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
		static const char v[] = "corekube pause 3.10\n";
		return write(STDOUT_FILENO, v, sizeof v - 1) < 0;
	}
	if (argc > 1) {
		(void)!write(STDERR_FILENO, usage, sizeof usage - 1);
		return 2;
	}
	if (handle(SIGINT, on_stop, 0) || handle(SIGTERM, on_stop, 0) ||
	    handle(SIGCHLD, on_child, SA_RESTART | SA_NOCLDSTOP)) {
		static const char e[] = "pause: sigaction failed\n";
		(void)!write(STDERR_FILENO, e, sizeof e - 1);
		return 1;
	}
	/* Reap anything that exited before the handler was installed. */
	on_child(SIGCHLD);
	for (;;)
		pause();
}
