// Test entry point. After the suite, checks that every op registered with autograd (OpInfo) had
// a finite-difference gradient check, so an op cannot be added without one. The check runs only
// when the whole suite ran (no --gtest_filter), since a filtered run skips most checks.
#include <gtest/gtest.h>

#include <iostream>

#include "autograd/gradcheck.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int status = RUN_ALL_TESTS();
  if (::testing::GTEST_FLAG(filter) != "*") return status;
  std::string missing;
  for (const std::string& op : mindiff::registered_ops())
    if (!mindiff::gradchecked_ops().count(op)) missing += " " + op;
  if (!missing.empty()) {
    std::cout << "FAILED: ops registered without a finite-difference gradient check:" << missing
              << "\n";
    return 1;
  }
  std::cout << "All " << mindiff::registered_ops().size()
            << " registered ops have a gradient check.\n";
  return status;
}
