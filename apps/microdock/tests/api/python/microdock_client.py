"""The seed's Python client (004, section 6.1.2), copied verbatim but for the two fixes the
issue names (marked "Test copy, fix"). Used by tests/api/python_client.rs."""
# microdock_client.py
import requests
import json
from typing import Optional, Dict, Any, Union
from pathlib import Path

class MicroDockClient:
    def __init__(self, base_url: str = "http://localhost:8000"):
        self.base_url = base_url.rstrip('/')
        self.session = requests.Session()
        # Test copy, fix 1 of 2: no session-wide Content-Type (it overrode the multipart
        # boundary of uploads); requests sets the right one per request.
        self.session.headers.update({
            'User-Agent': 'MicroDock-Python-Client/1.0'
        })
        self.token: Optional[str] = None

    def _make_request(self, method: str, endpoint: str,
                     data: Optional[Dict[str, Any]] = None,
                     files: Optional[Dict[str, Any]] = None,
                     return_response: bool = False) -> Union[Dict[str, Any], requests.Response]:
        """发送 HTTP 请求"""
        url = f"{self.base_url}{endpoint}"

        kwargs = {}
        if data and not files:
            kwargs['json'] = data
        elif files:
            kwargs['files'] = files
            kwargs['data'] = data

        if self.token:
            self.session.headers.update({
                'Authorization': f'Bearer {self.token}'
            })

        response = self.session.request(method, url, **kwargs)

        if return_response:
            return response

        # 对于文件下载，返回原始响应
        # Test copy, fix 2 of 2: JSON is application/* too; check for it first.
        content_type = response.headers.get('content-type', '')
        if content_type.startswith('application/') and not content_type.startswith('application/json'):
            return response

        try:
            return response.json()
        except json.JSONDecodeError:
            return {'success': False, 'message': 'Invalid JSON response', 'data': response.text}

    # 认证方法
    def login(self, username: str, password: str) -> Dict[str, Any]:
        """管理员登录"""
        response = self._make_request('POST', '/api/auth/login', {
            'username': username,
            'password': password
        })

        if response.get('success') and 'token' in response:
            self.token = response['token']

        return response

    def logout(self) -> Dict[str, Any]:
        """管理员登出"""
        response = self._make_request('POST', '/api/auth/logout')
        self.token = None
        return response

    def get_auth_status(self) -> Dict[str, Any]:
        """获取认证状态"""
        return self._make_request('GET', '/api/auth/me')

    # 插件管理方法
    def get_plugins(self) -> Dict[str, Any]:
        """获取插件列表"""
        return self._make_request('GET', '/api/plugins/list')

    def get_plugin_detail(self, name: str) -> Dict[str, Any]:
        """获取插件详情"""
        return self._make_request('POST', '/api/plugins/detail', {'name': name})

    def upload_plugin(self, file_path: Union[str, Path], plugin_key: str) -> Dict[str, Any]:
        """上传插件"""
        file_path = Path(file_path)
        if not file_path.exists():
            return {'success': False, 'message': f'文件不存在: {file_path}'}

        with open(file_path, 'rb') as f:
            files = {'file': (file_path.name, f, 'application/zip')}
            data = {'plugin_key': plugin_key}
            return self._make_request('POST', '/api/plugins/upload', data=data, files=files)

    def enable_plugin(self, name: str) -> Dict[str, Any]:
        """启用插件"""
        return self._make_request('POST', '/api/plugins/enable', {'name': name})

    def disable_plugin(self, name: str) -> Dict[str, Any]:
        """禁用插件"""
        return self._make_request('POST', '/api/plugins/disable', {'name': name})

    def deprecate_plugin(self, name: str) -> Dict[str, Any]:
        """标记插件过时"""
        return self._make_request('POST', '/api/plugins/deprecate', {'name': name})

    def delete_plugin(self, name: str) -> Dict[str, Any]:
        """删除插件"""
        return self._make_request('POST', '/api/plugins/delete', {'name': name})

    def download_plugin(self, name: str, save_path: Optional[Union[str, Path]] = None) -> requests.Response:
        """下载插件"""
        response = self._make_request('POST', '/api/plugins/download',
                                     {'name': name}, return_response=True)

        if save_path and response.status_code == 200:
            save_path = Path(save_path)
            # 从响应头获取文件名
            content_disposition = response.headers.get('content-disposition', '')
            if 'filename=' in content_disposition:
                filename = content_disposition.split('filename=')[1].strip('"')
            else:
                filename = f"{name}.zip"

            with open(save_path / filename, 'wb') as f:
                f.write(response.content)

        return response

    # 版本管理方法
    def get_plugin_versions(self, name: str) -> Dict[str, Any]:
        """获取插件版本列表"""
        return self._make_request('POST', '/api/plugins/versions', {'name': name})

    def get_version_detail(self, name: str, version: str) -> Dict[str, Any]:
        """获取版本详情"""
        return self._make_request('POST', '/api/plugins/version/detail', {
            'name': name,
            'version': version
        })

    def deprecate_version(self, name: str, version: str) -> Dict[str, Any]:
        """标记版本过时"""
        return self._make_request('POST', '/api/plugins/version/deprecate', {
            'name': name,
            'version': version
        })

    def download_version(self, name: str, version: str,
                         save_path: Optional[Union[str, Path]] = None) -> requests.Response:
        """下载指定版本"""
        response = self._make_request('POST', '/api/plugins/version/download',
                                     {'name': name, 'version': version},
                                     return_response=True)

        if save_path and response.status_code == 200:
            save_path = Path(save_path)
            content_disposition = response.headers.get('content-disposition', '')
            if 'filename=' in content_disposition:
                filename = content_disposition.split('filename=')[1].strip('"')
            else:
                filename = f"{name}@{version}.zip"

            with open(save_path / filename, 'wb') as f:
                f.write(response.content)

        return response

    # 备份管理方法
    def upload_backup(self, file_path: Union[str, Path], user_key: str,
                     backup_type: str, description: Optional[str] = None) -> Dict[str, Any]:
        """上传备份"""
        file_path = Path(file_path)
        if not file_path.exists():
            return {'success': False, 'message': f'文件不存在: {file_path}'}

        if backup_type not in ['program', 'plugin']:
            return {'success': False, 'message': '备份类型必须是 program 或 plugin'}

        with open(file_path, 'rb') as f:
            files = {'file': (file_path.name, f, 'application/octet-stream')}
            data = {
                'user_key': user_key,
                'backup_type': backup_type
            }
            if description:
                data['description'] = description

            return self._make_request('POST', '/api/backups/upload', data=data, files=files)

    def get_backup_list(self, user_key: str) -> Dict[str, Any]:
        """获取用户备份列表"""
        return self._make_request('POST', '/api/backups/list', {'user_key': user_key})

    def get_all_backup_list(self) -> Dict[str, Any]:
        """获取所有备份列表（需要管理员权限）"""
        return self._make_request('GET', '/api/backups/list-all')

    def download_backup(self, user_key: str, backup_id: int,
                       save_path: Optional[Union[str, Path]] = None) -> requests.Response:
        """下载备份"""
        response = self._make_request('POST', '/api/backups/download',
                                     {'user_key': user_key, 'id': backup_id},
                                     return_response=True)

        if save_path and response.status_code == 200:
            save_path = Path(save_path)
            content_disposition = response.headers.get('content-disposition', '')
            if 'filename=' in content_disposition:
                filename = content_disposition.split('filename=')[1].strip('"')
            else:
                filename = f"backup_{backup_id}.zip"

            with open(save_path / filename, 'wb') as f:
                f.write(response.content)

        return response

    def delete_backup(self, user_key: str, backup_id: int) -> Dict[str, Any]:
        """删除备份（需要管理员权限）"""
        return self._make_request('POST', '/api/backups/delete', {
            'user_key': user_key,
            'id': backup_id
        })

    # 系统方法
    def get_health_status(self) -> Dict[str, Any]:
        """获取健康状态"""
        return self._make_request('GET', '/api/health')

    def get_server_info(self) -> Dict[str, Any]:
        """获取服务器信息"""
        return self._make_request('GET', '/')

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.session.close()
