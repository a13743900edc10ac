/*
 * fault.h - fault injection for write paths, in test builds only.
 *
 * With BULWARK_FAULT_INJECTION compiled in, the environment variable
 * BULWARK_FAULT="OP:N" makes the N-th call (counting from 1) of OP fail
 * with EIO, where OP is write, fsync or rename (which also stands for the
 * link() that publishes a never-replaced file). Tests walk N upwards to fail
 * each call in turn and check that nothing acknowledged is lost. OP
 * "direct" refuses the N-th O_DIRECT write of a vault upload with EINVAL,
 * as a file system without direct I/O does. In other
 * builds fault_hit() is a constant 0 and the checks compile away.
 */
#ifndef BULWARK_COMMON_FAULT_H
#define BULWARK_COMMON_FAULT_H

#ifdef BULWARK_FAULT_INJECTION
/* Returns 1 when this call of op must fail. */
int fault_hit(const char *op);
#else
#define fault_hit(op) 0
#endif

#endif
