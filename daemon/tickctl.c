/*
 * tickctl - the admin CLI.  Everything lives in src/ctl.c so that tests
 * and the daemon share one library; this is only the entry point.
 */
#include "ctl.h"

int
main(int argc, char **argv)
{
	return ctl_main(argc, argv);
}
