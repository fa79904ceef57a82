// What the emulator can say about a kernel's speed without a GPU: how often it is launched, and
// how its shared-memory accesses fall on the banks. Off unless asked for (it slows the emulator).
//
//   cuda::emu::start_traffic_count();
//   ... launch kernels ...
//   const cuda::emu::TrafficReport r = cuda::emu::stop_traffic_count();
//   r.at("tile_gemm_fp32").shared.at("As load")   // requests, wavefronts, ideal
//
// The bank model (the one Nsight Compute's "shared bank conflicts" counts). Shared memory is 32
// banks of 4-byte words; word w lies in bank w % 32, and each bank delivers one word per cycle.
// One warp-wide access (a load or store instruction, each active lane at its own address) is
// served in wavefronts, one per distinct word the busiest bank must deliver:
//   wavefronts = max over banks of the distinct words the lanes touch in that bank
// (lanes at the same word share it: a broadcast). However the words were laid out, the access
// needs at least
//   ideal = ceil(distinct words / 32)
// wavefronts; wavefronts - ideal are the bank conflicts. A 16-byte access (load_shared4,
// store_shared4 in cuda/kernel.h) touches four consecutive words per lane, so 32 lanes reading 32
// different float4 take 4 wavefronts at best.
//
// Which accesses form one warp-wide access: the emulator runs a warp's lanes one after another, so
// between two barriers it logs each lane's shared accesses in order, and the k-th access of every
// lane of a warp is taken as one instruction. That holds for code the lanes run in step (every
// tile loop here); a branch in which some lanes make more shared accesses than others before the
// next barrier would pair the wrong accesses.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace mindiff::cuda::emu {

struct LaneAccess {
  uint32_t offset;  // byte offset in the block's shared memory
  uint32_t bytes;   // 4, or 16 for a vector access
};
struct Wavefronts {
  int64_t wavefronts, ideal;
};
// The wavefronts of one warp-wide access by n lanes (n <= 32).
Wavefronts count_wavefronts(const LaneAccess* lanes, int n);

struct SharedTraffic {
  int64_t requests = 0;    // warp-wide accesses
  int64_t wavefronts = 0;  // their wavefronts, summed
  int64_t ideal = 0;       // the least they could take, summed
};
struct KernelTraffic {
  int64_t launches = 0;
  std::map<std::string, SharedTraffic> shared;  // by "<array> load" and "<array> store"
};
using TrafficReport = std::map<std::string, KernelTraffic>;  // by the kernel's launch name

// Clears the counts and starts counting (on every CPU thread's launches).
void start_traffic_count();
// Stops counting and returns what was counted since the start.
TrafficReport stop_traffic_count();

}  // namespace mindiff::cuda::emu
