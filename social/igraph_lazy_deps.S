// x86-64 trampolines for igraph's shared dependencies (igraph_lazy_deps.inc): each function jumps through
// its slot; the slot starts at a stub that saves the argument registers, has tern_igraph_lazy_load (C++,
// igraph_lazy_deps.cpp) dlopen the library and fill its slots, restores the registers and jumps to the
// real function. The arguments (registers and stack) reach it untouched, whatever the signature.

.macro TERN_LAZY_FN name, lib
  .text
  .globl \name
  .type \name, @function
  .p2align 4
\name:
  jmp *tern_lazy_slot_\name(%rip)
  .size \name, . - \name
  .p2align 4
tern_lazy_first_\name:
  // Entered by a jump at a call's entry: %rsp = 8 mod 16; 7 pushes + 128 bytes keep the call aligned.
  push %rdi
  push %rsi
  push %rdx
  push %rcx
  push %r8
  push %r9
  push %rax
  sub $128, %rsp
  movdqu %xmm0, 0(%rsp)
  movdqu %xmm1, 16(%rsp)
  movdqu %xmm2, 32(%rsp)
  movdqu %xmm3, 48(%rsp)
  movdqu %xmm4, 64(%rsp)
  movdqu %xmm5, 80(%rsp)
  movdqu %xmm6, 96(%rsp)
  movdqu %xmm7, 112(%rsp)
  mov $\lib, %edi
  call tern_igraph_lazy_load@PLT
  movdqu 0(%rsp), %xmm0
  movdqu 16(%rsp), %xmm1
  movdqu 32(%rsp), %xmm2
  movdqu 48(%rsp), %xmm3
  movdqu 64(%rsp), %xmm4
  movdqu 80(%rsp), %xmm5
  movdqu 96(%rsp), %xmm6
  movdqu 112(%rsp), %xmm7
  add $128, %rsp
  pop %rax
  pop %r9
  pop %r8
  pop %rcx
  pop %rdx
  pop %rsi
  pop %rdi
  jmp *tern_lazy_slot_\name(%rip)
  .data
  .p2align 3
  .globl tern_lazy_slot_\name
  .hidden tern_lazy_slot_\name
tern_lazy_slot_\name:
  .quad tern_lazy_first_\name
.endm

#define TERN_LAZY(lib, name) TERN_LAZY_FN name, lib
#include "social/igraph_lazy_deps.inc"

.section .note.GNU-stack, "", @progbits
