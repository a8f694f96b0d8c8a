// Maps the CUDA header cuda_runtime.h to the CPU emulation (tests/cuda-emulation/cuda_emu.hpp).
#pragma once
#include "../cuda_emu.hpp"
