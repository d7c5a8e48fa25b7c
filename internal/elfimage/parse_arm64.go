package elfimage

import "debug/elf"

// hostMachine is the e_machine Parse accepts: the one this process runs on.
const hostMachine = elf.EM_AARCH64
