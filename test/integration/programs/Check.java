// Java under the strict policy: javac, then the JVM with its own threads and one of ours.
public class Check {
    public static void main(String[] args) throws Exception {
        final int[] answer = new int[1];
        Thread t = new Thread(() -> answer[0] = 6 * 7);
        t.start();
        t.join();
        System.out.println("java: ok (thread " + answer[0] + ", " + Runtime.getRuntime().availableProcessors() + " cpus)");
    }
}
