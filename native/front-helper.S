/* native/build/diyc-helper inside diyc-front (front.c spawn_helper), as Bun embeds it in build/diyc. */
	.section .rodata
	.global diyc_helper_start
	.global diyc_helper_end
	.balign 16
diyc_helper_start:
	.incbin "build/diyc-helper"
diyc_helper_end:
	.section .note.GNU-stack,"",@progbits
