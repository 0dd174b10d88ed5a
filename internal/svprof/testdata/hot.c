/* hot: a CPU-bound test service for svprof. hot_leaf, called only from
   hot_parent, takes nearly all the time; cold_leaf a little. With an
   argument N it exits after N seconds of CPU time, else it runs forever. */
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void hot_leaf(void)
{
	for (unsigned long i = 0; i < 4000000; i++)
		sink += i * 7;
}

__attribute__((noinline)) void cold_leaf(void)
{
	for (unsigned long i = 0; i < 40000; i++)
		sink += i;
}

__attribute__((noinline)) void hot_parent(void)
{
	hot_leaf();
	sink++;
}

int main(int argc, char **argv)
{
	double limit = argc > 1 ? atof(argv[1]) : 0;
	for (;;) {
		hot_parent();
		cold_leaf();
		if (limit > 0 && (double)clock() / CLOCKS_PER_SEC >= limit)
			return 0;
	}
}
