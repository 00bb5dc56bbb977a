// C++ under the strict policy: std::thread, a mutex, iostream.
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

int main() {
  std::mutex m;
  long sum = 0;
  std::vector<std::thread> workers;
  for (int i = 1; i <= 4; i++) {
    workers.emplace_back([&m, &sum, i] {
      std::lock_guard<std::mutex> lock(m);
      sum += i;
    });
  }
  for (auto &t : workers) t.join();
  std::cout << "c++: ok (4 threads, sum " << sum << ")" << std::endl;
  return sum == 10 ? 0 : 1;
}
