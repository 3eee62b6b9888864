#include <ermfs.h>
#include <fcntl.h>
#include <stdio.h>

int main(void) {
    int fd = ermfs_open("/hello.txt", O_CREAT | O_WRONLY, 0644);
    ermfs_write(fd, "hello from ermfs\n", 17);
    ermfs_close(fd); /* last close: the file is compressed in RAM */
    char buf[32] = {0};
    fd = ermfs_open("/hello.txt", O_RDONLY, 0); /* inflated again */
    ermfs_read(fd, buf, sizeof buf - 1);
    ermfs_close(fd);
    fputs(buf, stdout);
    return 0;
}
