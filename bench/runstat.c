// runstat: runs a command and reports what it cost, for the harness.
//
//   runstat CMD [ARGS...]
//
// Writes "pid N" to fd 3 once the child is started (the harness samples /proc/N/stat there to
// subtract start-up), then, when the child ends, one JSON line to fd 3:
// {"status":S,"signal":N,"utime_us":U,"stime_us":S,"maxrss_kb":K} from wait4's rusage (the
// child and whatever it waited for). SIGTERM and SIGINT are passed on to the child.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;
static void forward(int sig) { if (child > 0) kill(child, sig); }

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: runstat CMD [ARGS...]\n"); return 2; }
  FILE *report = fdopen(3, "w");
  if (!report) report = stderr;
  child = fork();
  if (child < 0) { perror("runstat: fork"); return 1; }
  if (child == 0) {
    close(3);
    execvp(argv[1], argv + 1);
    perror("runstat: exec");
    _exit(127);
  }
  struct sigaction sa = { .sa_handler = forward };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(report, "pid %d\n", (int)child);
  fflush(report);
  int status = 0;
  struct rusage ru;
  while (wait4(child, &status, 0, &ru) < 0) {}
  fprintf(report, "{\"status\":%d,\"signal\":%d,\"utime_us\":%lld,\"stime_us\":%lld,\"maxrss_kb\":%ld}\n",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
          (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
          (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
  fclose(report);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
